package config

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// tomlString quotes s as a TOML basic string, escaping what TOML wants
// escaped.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestNamesRefused walks every way a name comes in (TOML and INI program
// and group sections, process names made by process_name, and
// Program.Validate, which the API uses) with each kind of bad name: the
// CLI's target keywords, path components, control and other unprintable
// characters, separators, and names too long for a log file name.
func TestNamesRefused(t *testing.T) {
	bad := []struct {
		name, why string
	}{
		{".", "the name is reserved"},
		{"..", "the name is reserved"},
		{"all", "the name is reserved"},
		{"*", "the name is reserved"},
		{"red\x1b[31mtext", "unprintable character U+001B"},
		{"bell\a", "unprintable character U+0007"},
		{"tab\there", "unprintable character U+0009"},
		{"del\x7f", "unprintable character U+007F"},
		{"csi\u009b1m", "unprintable character U+009B"},
		{"bidi\u202egnp.exe", "unprintable character U+202E"},
		{"nbsp\u00a0x", "unprintable character U+00A0"},
		{"a:b", `it contains ':'`},
		{"a/b", `it contains '/'`},
		{strings.Repeat("x", MaxNameLen+1), "101 bytes is longer than the 100 allowed"},
		{strings.Repeat("é", 200), "400 bytes is longer than the 100 allowed"},
	}
	for _, tt := range bad {
		q := fmt.Sprintf("%q", tt.name)
		if len(tt.name) > MaxNameLen {
			q = fmt.Sprintf("%q...", tt.name[:32])
		}
		want := "invalid name " + q + ": "
		sources := []struct {
			format, src, prefix string
		}{
			{"toml program", "[program." + tomlString(tt.name) + "]\ncommand = \"x\"\n", fmt.Sprintf("corral.toml:1: program %q: ", tt.name)},
			{"toml group", "[group." + tomlString(tt.name) + "]\nprograms = [\"x\"]\n[program.x]\ncommand = \"x\"\n", fmt.Sprintf("corral.toml:1: group %q: ", tt.name)},
			{"toml process_name", "[program.x]\ncommand = \"x\"\n\nprocess_name = " + tomlString(tt.name) + "\n", `corral.toml:4: program "x": key "process_name": process 0: `},
			{"ini program", "[program:" + tt.name + "]\ncommand = x\n", "supervisord.conf:1: [program:" + tt.name + "]: "},
			{"ini group", "[program:x]\ncommand = x\n[group:" + tt.name + "]\nprograms = x\n", "supervisord.conf:3: [group:" + tt.name + "]: "},
			{"ini process_name", "[program:x]\ncommand = x\nprocess_name = " + tt.name + "\n", `supervisord.conf:3: [program:x]: key "process_name": process 0: `},
		}
		for _, s := range sources {
			t.Run(s.format+"/"+q, func(t *testing.T) {
				var err error
				if strings.HasPrefix(s.format, "toml") {
					_, err = ParseTOML("corral.toml", []byte(s.src))
				} else {
					_, err = ParseINI("supervisord.conf", []byte(s.src), nil)
				}
				if err == nil {
					t.Fatalf("accepted:\n%s", s.src)
				}
				if !strings.HasPrefix(err.Error(), s.prefix+want) || !strings.Contains(err.Error(), tt.why) {
					t.Errorf("error\n%s\nwant\n%s%s...%s", err, s.prefix, want, tt.why)
				}
			})
		}
		t.Run("Validate/"+q, func(t *testing.T) {
			p := NewProgram(tt.name)
			p.Command = []string{"x"}
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tt.why) {
				t.Errorf("Validate: %v, want %s...%s", err, want, tt.why)
			}
		})
	}
	// Invalid UTF-8 cannot be written in TOML, but INI files and API
	// requests can carry it.
	invalid := "bad\xff\x9b"
	if _, err := ParseINI("supervisord.conf", []byte("[program:"+invalid+"]\ncommand = x\n"), nil); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("INI with an invalid UTF-8 name: %v", err)
	}
	p := NewProgram(invalid)
	p.Command = []string{"x"}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") || !utf8.ValidString(err.Error()) {
		t.Errorf("Validate with an invalid UTF-8 name: %v", err)
	}
}

// TestNamesAccepted: ordinary names, dots that are not path components,
// non-ASCII letters and a name of exactly MaxNameLen bytes all pass.
func TestNamesAccepted(t *testing.T) {
	for _, name := range []string{"web", "web-1", "web_1.a", ".hidden", "...", "..x", "all2", "ALL", "all-web", "x*", "ñandú", "日本", "@x", strings.Repeat("x", MaxNameLen)} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseTOML("corral.toml", []byte("[program."+tomlString(name)+"]\ncommand = \"x\"\n")); err != nil {
				t.Errorf("TOML: %v", err)
			}
			if _, err := ParseINI("supervisord.conf", []byte("[program:"+name+"]\ncommand = x\n"), nil); err != nil {
				t.Errorf("INI: %v", err)
			}
			p := NewProgram(name)
			p.Command = []string{"x"}
			if err := p.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}
