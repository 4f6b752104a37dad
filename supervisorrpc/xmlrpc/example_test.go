package xmlrpc_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/corralhq/corral/supervisorrpc/xmlrpc"
)

// A method table with one supervisord method and system.multicall, served
// over HTTP the way supervisorctl expects.
func ExampleMethods() {
	m := xmlrpc.Methods{
		"supervisor.startProcess": func(params []any) (any, error) {
			if err := xmlrpc.Arity(params, 1, 2); err != nil {
				return nil, err
			}
			name, err := xmlrpc.Param[string](params, 0)
			if err != nil {
				return nil, err
			}
			if name != "web" {
				return nil, xmlrpc.NewFault(xmlrpc.FaultBadName, name)
			}
			return true, nil
		},
	}
	m["system.multicall"] = m.Multicall

	body := `<?xml version='1.0'?>
<methodCall>
<methodName>supervisor.startProcess</methodName>
<params>
<param>
<value><string>db</string></value>
</param>
</params>
</methodCall>
`
	w := httptest.NewRecorder()
	m.ServeHTTP(w, httptest.NewRequest("POST", "/RPC2", strings.NewReader(body)))
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	fmt.Print(w.Body.String())
	// Output:
	// 200 text/xml
	// <?xml version='1.0'?>
	// <methodResponse>
	// <fault>
	// <value><struct>
	// <member>
	// <name>faultCode</name>
	// <value><int>10</int></value>
	// </member>
	// <member>
	// <name>faultString</name>
	// <value><string>BAD_NAME: db</string></value>
	// </member>
	// </struct></value>
	// </fault>
	// </methodResponse>
}

func ExampleDecodeCall() {
	method, params, err := xmlrpc.DecodeCall(strings.NewReader(
		"<methodCall><methodName>supervisor.readProcessStdoutLog</methodName><params>" +
			"<param><value><string>web</string></value></param>" +
			"<param><value><int>-100</int></value></param>" +
			"<param><value><int>0</int></value></param>" +
			"</params></methodCall>"))
	fmt.Println(method, params, err)

	_, _, err = xmlrpc.DecodeCall(strings.NewReader(
		"<methodCall><methodName>supervisor.readProcessStdoutLog</methodName><params>" +
			"<param><value><string>web</string></value></param>" +
			"<param><value><int>abc</int></value></param>" +
			"</params></methodCall>"))
	fmt.Println(err)
	// Output:
	// supervisor.readProcessStdoutLog [web -100 0] <nil>
	// xmlrpc: param 2: <int> "abc": invalid integer
}

func ExampleEncodeResponse() {
	err := xmlrpc.EncodeResponse(os.Stdout, map[string]any{"statename": "RUNNING", "statecode": 1})
	fmt.Println(err)
	// Output:
	// <?xml version='1.0'?>
	// <methodResponse>
	// <params>
	// <param>
	// <value><struct>
	// <member>
	// <name>statecode</name>
	// <value><int>1</int></value>
	// </member>
	// <member>
	// <name>statename</name>
	// <value><string>RUNNING</string></value>
	// </member>
	// </struct></value>
	// </param>
	// </params>
	// </methodResponse>
	// <nil>
}
