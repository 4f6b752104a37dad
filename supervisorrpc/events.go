package supervisorrpc

import "github.com/corralhq/corral/supervisorrpc/xmlrpc"

// sendRemoteCommEvent is supervisord's supervisor.sendRemoteCommEvent(type,
// data): a REMOTE_COMMUNICATION event with payload "type:TYPE\nDATA".
func (c *call) sendRemoteCommEvent(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 2, 2); err != nil {
		return nil, err
	}
	typ, err := xmlrpc.Param[string](params, 0)
	if err != nil {
		return nil, err
	}
	data, err := xmlrpc.Param[string](params, 1)
	if err != nil {
		return nil, err
	}
	c.d.SendRemoteCommEvent(typ, data)
	return true, c.live()
}
