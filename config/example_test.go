package config_test

import (
	"fmt"

	"github.com/corralhq/corral/config"
)

func ExampleParseTOML() {
	cfg, err := config.ParseTOML("corral.toml", []byte(`
[program.web]
command = "python3 -m http.server 80%(process_num)02d"
numprocs = 2
stop_signal = "INT"
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range cfg.Programs[0].Processes() {
		fmt.Println(p.FullName(), p.Program.Command, p.Program.StopSignal)
	}
	// Output:
	// web:0 [python3 -m http.server 8000] interrupt
	// web:1 [python3 -m http.server 8001] interrupt
}

func ExampleParseINI() {
	_, err := config.ParseINI("supervisord.conf", []byte(`
[program:web]
command = python3 -m http.server
autostart = maybe
`), nil)
	fmt.Println(err)
	// Output:
	// supervisord.conf:4: [program:web]: key "autostart": not a valid boolean value: "maybe" (want true or false)
}
