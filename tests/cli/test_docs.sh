#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The generated man page and bash completion (src/cli/docgen.c, `make docs`)
# against the program itself: every command `speebpf help` lists and every
# option its `--help` shows is in the man page, in that command's section, and
# is offered by the completion after that command; the completion offers no
# option a command does not take, completes choices and files, and the man
# page renders without a warning. A command or an option that either lacks
# fails here.
set -u
BIN=${SPEEBPF:-build/speebpf}	# the help it prints, not its memory, is under test here
MAN=${SPEEBPF_MAN:-build/speebpf.8}
COMPLETION=${SPEEBPF_COMPLETION:-build/speebpf.bash-completion}
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
fails=0
checks=0
ok() { checks=$((checks + 1)); }
fail() {
	echo "FAIL $*"
	fails=$((fails + 1))
}
for f in "$MAN" "$COMPLETION" "$BASH_COMPLETION"; do
	[ -r "$f" ] || { echo "FAIL no $f (make docs; tools/install-deps.sh)"; exit 1; }
done
COMPLETION=$(realpath "$COMPLETION")

# The man page as text, and one command's section of it.
page=$(LC_ALL=C MANWIDTH=200 man --nj --nh -l "$MAN" 2>/dev/null | col -b)
section() { awk -v h="   speebpf $1" '$0 == h { on = 1; next } /^   speebpf / || /^[A-Z]/ { on = 0 } on' <<<"$page"; }

# complete WORD...: what the completion offers for the command line "speebpf WORD..."
# (the last word is the one being completed).
complete_words() {
	bash --norc --noprofile -c '
		source "$1"; source "$2"; shift 2
		COMP_WORDS=(speebpf "$@"); COMP_CWORD=$(($# ))
		COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
		_speebpf speebpf "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		((${#COMPREPLY[@]} == 0)) || printf "%s\n" "${COMPREPLY[@]}"' _ "$BASH_COMPLETION" "$COMPLETION" "$@"
}

# The commands and, per command, its options, as the program's help has them.
help=$("$BIN" help)
commands=$(awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }' <<<"$help")
[ "$(wc -w <<<"$commands")" -ge 12 ] || fail "speebpf help lists too few commands: $commands"
top=$(complete_words "")
for c in $commands; do
	usage=$("$BIN" "$c" --help)
	options=$(grep -oE '^ +(-[a-z], )?--[a-z-]+' <<<"$usage" | grep -oE -- '--[a-z-]+$')
	short=$(grep -oE '^ +-[a-z],' <<<"$usage" | tr -d ' ,')
	sec=$(section "$c")
	offered=$(complete_words "$c" -)
	grep -qx -- "$c" <<<"$top" && ok || fail "the completion does not offer command $c"
	[ -n "$sec" ] && ok || fail "the man page has no section for $c"
	grep -qF -- "$(awk -v c="$c" '$1 == c { $1 = ""; print substr($0, 3); exit }' <<<"$help")" \
		<<<"$sec" && ok || fail "the man page's $c section lacks its summary"
	for o in $options $short; do
		[ "$o" = --help ] || [ "$o" = -h ] && continue
		grep -qE -- "(^|[][ ,])$o([], ]|$)" <<<"$sec" && ok ||
			fail "the man page's $c section lacks $o"
		grep -qx -- "$o" <<<"$offered" && ok || fail "the completion of $c does not offer $o"
	done
	# and nothing more: every option offered is one the command takes
	for o in $offered; do
		grep -qx -- "$o" <<<"$options"$'\n'"$short"$'\n'--help$'\n'-h && ok ||
			fail "the completion of $c offers $o, which $c does not take"
	done
done

# option arguments: choices, files, directories; help's operand
[ "$(complete_words stats --json --prometheus --watch 1 --count "" | wc -l)" = 0 ] && ok ||
	fail "a number argument is completed with something"
protos=$("$BIN" explain --help | grep -oE -- '--proto [a-z0-9|]+' | head -n 1 | cut -d' ' -f2)
[ "$(complete_words explain --proto "" | sort)" = "$(tr '|' '\n' <<<"$protos" | sort)" ] &&
	[[ $protos == tcp\|udp* ]] && ok || fail "explain --proto does not complete to its choices ($protos)"
[ "$(complete_words run -c x --log-format j)" = json ] && ok || fail "run --log-format j is not json"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
touch "$dir/fleet.yaml"
(cd "$dir" && [ "$(complete_words check -c fl)" = fleet.yaml ]) && ok ||
	fail "check -c does not complete a file name"
[ "$(complete_words help ver)" = verify ] && ok || fail "help's operand does not complete a command"
complete_words -- "" >/dev/null && ok || fail "the completion fails on an odd line"

# the man page renders cleanly, and names what the tables do not hold once
warnings=$(LC_ALL=C MANWIDTH=80 man --warnings -l "$MAN" 2>&1 >/dev/null)
[ -z "$warnings" ] && ok || fail "man --warnings: $warnings"
for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS "EXIT STATUS" FILES "SEE ALSO"; do
	grep -qx "$s" <<<"$page" && ok || fail "the man page has no $s section"
done
grep -q "^speebpf $(cat VERSION 2>/dev/null || echo .)" <<<"$(tail -n 1 <<<"$page" | tr -s ' ')" && ok ||
	fail "the man page's footer does not carry the version"

# the check fails on a page or a completion that lacks something
if [ "${SPEEBPF_SELFTEST:-}" != 1 ]; then
	broken=$(mktemp)
	sed '/^\.SS "speebpf verify"/,/^\.SS/{/^\.SS "speebpf detach"/!d}' "$MAN" >"$broken"
	out=$(SPEEBPF_MAN=$broken SPEEBPF_SELFTEST=1 "$0" 2>&1)
	rm -f "$broken"
	grep -q "FAIL the man page has no section for verify" <<<"$out" && ok ||
		fail "a man page without verify's section passes"
	broken=$(mktemp)
	sed 's/--timeout//g' "$COMPLETION" >"$broken"
	out=$(SPEEBPF_COMPLETION=$broken SPEEBPF_SELFTEST=1 "$0" 2>&1)
	rm -f "$broken"
	grep -q "FAIL the completion of apply does not offer --timeout" <<<"$out" && ok ||
		fail "a completion without --timeout passes"
fi

echo "docs: $checks checks ok, $fails failed"
[ "$fails" = 0 ]
