package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

func runCompletion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("completion", stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: peerwire completion bash|zsh\n\nPrints a shell completion script, e.g.:\n  source <(peerwire completion bash)\n  peerwire completion zsh > \"${fpath[1]}/_peerwire\"\n")
	}
	if wantsHelp(args) {
		return parseFlags(fs, args)
	}
	if len(args) != 1 {
		return usageError{fmt.Errorf("want one argument: bash or zsh")}
	}
	flags := commandFlags()
	switch args[0] {
	case "bash":
		writeBashCompletion(stdout, flags)
	case "zsh":
		writeZshCompletion(stdout, flags)
	default:
		return usageError{fmt.Errorf("%q: want bash or zsh", args[0])}
	}
	return nil
}

// commandFlags lists each command's flags, read from its own -h output so
// that completion cannot drift from the flags.
func commandFlags() map[string][]string {
	out := map[string][]string{}
	for _, c := range commands() {
		if c.name == "completion" {
			continue
		}
		var help bytes.Buffer
		_ = c.run(context.Background(), []string{"-h"}, &help, stdioWriter{&help, &help})
		sc := bufio.NewScanner(&help)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "  -") {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimPrefix(line, "  "), " ")
			out[c.name] = append(out[c.name], name)
		}
		sort.Strings(out[c.name])
	}
	return out
}

func commandNames() []string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return append(names, "help")
}

func writeBashCompletion(w io.Writer, flags map[string][]string) {
	fmt.Fprintf(w, "# bash completion for peerwire; load with: source <(peerwire completion bash)\n")
	fmt.Fprintf(w, "_peerwire() {\n")
	fmt.Fprintf(w, "    local cur=\"${COMP_WORDS[COMP_CWORD]}\"\n")
	fmt.Fprintf(w, "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n")
	fmt.Fprintf(w, "        COMPREPLY=($(compgen -W %q -- \"$cur\"))\n", strings.Join(commandNames(), " "))
	fmt.Fprintf(w, "        return\n    fi\n")
	fmt.Fprintf(w, "    local words=\"\"\n")
	fmt.Fprintf(w, "    case \"${COMP_WORDS[1]}\" in\n")
	for _, c := range commands() {
		if f := flags[c.name]; len(f) > 0 {
			fmt.Fprintf(w, "        %s) words=%q ;;\n", c.name, strings.Join(f, " "))
		}
	}
	fmt.Fprintf(w, "        completion) words=\"bash zsh\" ;;\n")
	fmt.Fprintf(w, "    esac\n")
	fmt.Fprintf(w, "    case \"$cur\" in\n")
	fmt.Fprintf(w, "        -*|\"\") COMPREPLY=($(compgen -W \"$words\" -- \"$cur\")) ;;\n")
	fmt.Fprintf(w, "        *) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n")
	fmt.Fprintf(w, "    esac\n}\n")
	fmt.Fprintf(w, "complete -o default -F _peerwire peerwire\n")
}

func writeZshCompletion(w io.Writer, flags map[string][]string) {
	fmt.Fprintf(w, "#compdef peerwire\n# zsh completion for peerwire; save as _peerwire in a directory of $fpath\n")
	fmt.Fprintf(w, "_peerwire() {\n")
	fmt.Fprintf(w, "    if (( CURRENT == 2 )); then\n")
	fmt.Fprintf(w, "        compadd -- %s\n", strings.Join(commandNames(), " "))
	fmt.Fprintf(w, "        return\n    fi\n")
	fmt.Fprintf(w, "    case \"$words[2]\" in\n")
	for _, c := range commands() {
		if f := flags[c.name]; len(f) > 0 {
			fmt.Fprintf(w, "        %s) compadd -- %s; _files ;;\n", c.name, strings.Join(f, " "))
		}
	}
	fmt.Fprintf(w, "        completion) compadd -- bash zsh ;;\n")
	fmt.Fprintf(w, "    esac\n}\n")
	fmt.Fprintf(w, "compdef _peerwire peerwire\n")
}
