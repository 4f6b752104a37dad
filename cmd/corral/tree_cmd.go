package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/corralhq/corral/client"
	"github.com/corralhq/corral/daemon"
)

// statusTree is `corral status --tree` and `--wide`.
func statusTree(cmd *cobra.Command, c *client.Client, names []string, asJSON, tree bool) error {
	trees, err := c.Tree(cmd.Context(), names...)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(trees)
	}
	if tree {
		printTree(out, trees)
	} else {
		printWide(out, trees)
	}
	return nil
}

func printTree(w io.Writer, trees []daemon.ProcessTree) {
	for _, t := range trees {
		head := t.Name
		if t.Cgroup != "" {
			head += " (cgroup " + t.Cgroup + ")"
		} else {
			head += " (process group; no cgroups)"
		}
		fmt.Fprintln(w, head)
		for _, p := range t.Processes {
			mark := "  "
			if p.Pid == t.Pid {
				mark = "* "
			}
			fmt.Fprintf(w, "  %s%d (ppid %d) %s\n", mark, p.Pid, p.PPid, p.Command)
		}
	}
}

func printWide(w io.Writer, trees []daemon.ProcessTree) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPID\tPROCS\tCPU\tMEMORY")
	for _, t := range trees {
		pid, cpu, mem := "-", "-", "-"
		if t.Pid != 0 {
			pid = strconv.Itoa(t.Pid)
		}
		if t.CPUUsec != nil {
			cpu = fmt.Sprintf("%.2fs", float64(*t.CPUUsec)/1e6)
		}
		if t.MemoryBytes != nil {
			mem = fmt.Sprintf("%.1fMiB", float64(*t.MemoryBytes)/(1<<20))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", t.Name, pid, len(t.Processes), cpu, mem)
	}
	tw.Flush()
}
