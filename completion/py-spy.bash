# bash completion for py-spy: subcommands, each one's options, -f formats.
_py_spy()
{
	local cur prev cmd i opts
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		record|top|dump|plugins) cmd=${COMP_WORDS[i]}; break ;;
		--) return 0 ;;
		esac
	done
	case $prev in
	-f|--format)
		# The formats plugins.ini offers, as py-spy's error for an unknown one lists them.
		local formats
		formats=$(py-spy record -f '?' -o /dev/null --pid 1 2>&1 | sed -n 's/.*can write: \(.*\))$/\1/p' | tr -d ,)
		COMPREPLY=($(compgen -W "${formats:-flamegraph speedscope raw}" -- "$cur"))
		return 0 ;;
	-o|--output|--config|--flame|--core|--core-root)
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0 ;;
	-p|--pid|-r|--rate|-d|--duration|--delay)
		return 0 ;;
	esac
	local common="--full-filenames --nonblocking --subprocesses --native --config --verbose --help --version"
	case $cmd in
	record) opts="--pid --output --format --duration --rate --function --nolineno --threads --gil --idle $common" ;;
	top) opts="--pid --output --rate --threads --gil --idle --delay $common" ;;
	dump) opts="--pid --core --core-root --output --json --locals $common" ;;
	plugins) opts="--config --verbose --help --version" ;;
	*)
		if [[ $cur != -* ]]; then
			COMPREPLY=($(compgen -W "record top dump plugins" -- "$cur"))
			return 0
		fi
		opts="--flame --dump --pid --duration --rate --function --gil --idle --delay $common" ;;
	esac
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _py_spy py-spy
