package monitor_test

import (
	"context"
	"fmt"
	"log"

	"github.com/corralhq/corral/monitor"
)

// Supervise a program, wait until it runs, and stop it.
func Example() {
	m, err := monitor.New(monitor.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	err = m.Add(monitor.Spec{
		Name:    "worker",
		Path:    "sleep",
		Args:    []string{"sleep", "60"},
		Restart: monitor.RestartPolicy{Kind: monitor.RestartAlways},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := m.StartWait(context.Background(), "worker"); err != nil {
		log.Fatal(err)
	}
	info, _ := m.Process("worker")
	fmt.Println(info.Name, info.State)

	if err := m.StopWait(context.Background(), "worker"); err != nil {
		log.Fatal(err)
	}
	info, _ = m.Process("worker")
	fmt.Println(info.Name, info.State, info.LastExit.Signal)
	// Output:
	// worker RUNNING
	// worker STOPPED terminated
}

// Follow events: every exit comes with its facts.
func ExampleMonitor_Subscribe() {
	m, _ := monitor.New(monitor.Options{})
	defer m.Close()
	sub, _ := m.Subscribe(0)
	defer sub.Close()

	_ = m.Add(monitor.Spec{Name: "job", Path: "sh", Args: []string{"sh", "-c", "exit 3"}})
	_ = m.Start("job")
	for {
		e, err := sub.Next(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		if e.Type == monitor.EventExited {
			fmt.Printf("%s exited with code %d, now %s\n", e.Name, e.Exit.Code, e.State)
			return
		}
	}
	// Output:
	// job exited with code 3, now EXITED
}

// Run a one-shot command without racing the monitor's reaper.
func ExampleMonitor_Command() {
	m, _ := monitor.New(monitor.Options{})
	defer m.Close()
	out, err := m.Command("echo", "hello").Output()
	fmt.Printf("%q %v\n", out, err)
	// Output:
	// "hello\n" <nil>
}
