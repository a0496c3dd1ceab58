# Bash completion for progimage-cli: commands, subcommands, flags, file names
# for upload, transform and similar, and profile names for --profile.
# Installed to share/bash-completion/completions/progimage-cli; or source it.

_progimage_cli_profiles() {
  local file="${XDG_CONFIG_HOME:-$HOME/.config}/progimage/config.toml"
  [[ -r $file ]] && sed -n 's/^[[:space:]]*\[\([A-Za-z0-9_.-]*\)\][[:space:]]*$/\1/p' "$file"
}

_progimage_cli() {
  local cur prev
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev=""
  ((COMP_CWORD > 0)) && prev="${COMP_WORDS[COMP_CWORD - 1]}"

  local global="--server --key --profile --tenant --json --help --version"
  local commands="upload get url transform info search similar rm jobs links keys usage stats"

  # The command and subcommand given so far (words before the cursor that
  # are not flags or flag values).
  local cmd="" sub="" i word
  local takes_value=" --server --key --profile --tenant -t --tag -d --description -n --name -c --concurrency
    --resumable-over -o --output -p --params --ext --expires --secret -q --q --format --camera --from --to -l
    --limit --max-distance --ids --url --query --callback-url --poll --timeout --expires-in --expires-at
    --max-uploads --max-bytes --role --key-tenant --rate --client "
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="${COMP_WORDS[i]}"
    if [[ $word == -* ]]; then
      [[ $takes_value == *" $word "* ]] && ((i++))
      continue
    fi
    if [[ -z $cmd ]]; then
      cmd="$word"
    elif [[ -z $sub && ($cmd == jobs || $cmd == links || $cmd == keys) ]]; then
      sub="$word"
    fi
  done

  case "$prev" in
    --profile)
      mapfile -t COMPREPLY < <(compgen -W "$(_progimage_cli_profiles)" -- "$cur")
      return ;;
    -o | --output)
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return ;;
    --role)
      mapfile -t COMPREPLY < <(compgen -W "read write admin" -- "$cur")
      return ;;
    --format | --ext)
      mapfile -t COMPREPLY < <(compgen -W "jpeg png webp avif heic jxl gif tiff jp2 svg" -- "$cur")
      return ;;
    --server | --key | --tenant | -t | --tag | -d | --description | -n | --name | -c | --concurrency | \
      --resumable-over | -p | --params | --expires | --secret | -q | --q | --camera | --from | --to | -l | \
      --limit | --max-distance | --ids | --url | --query | --callback-url | --poll | --timeout | --expires-in | \
      --expires-at | --max-uploads | --max-bytes | --key-tenant | --rate | --client)
      COMPREPLY=()
      return ;;
  esac

  local flags=""
  case "$cmd" in
    "")
      mapfile -t COMPREPLY < <(compgen -W "$commands $global" -- "$cur")
      return ;;
    upload) flags="--tag --description --name --concurrency --resumable-over" ;;
    get) flags="--output --params" ;;
    url) flags="--params --ext --expires --secret --relative" ;;
    transform) flags="--params --output" ;;
    info | usage | stats) flags="" ;;
    search) flags="--q --tag --format --camera --from --to --limit" ;;
    similar) flags="--max-distance --limit" ;;
    rm) flags="" ;;
    jobs)
      case "$sub" in
        "") mapfile -t COMPREPLY < <(compgen -W "submit status wait cancel --help" -- "$cur"); return ;;
        submit) flags="--ids --url --tag --query --params --format --store --callback-url --wait --poll --timeout" ;;
        status) flags="--results" ;;
        wait) flags="--poll --timeout" ;;
        cancel) flags="" ;;
      esac ;;
    links)
      case "$sub" in
        "") mapfile -t COMPREPLY < <(compgen -W "create list revoke --help" -- "$cur"); return ;;
        create) flags="--expires-in --expires-at --max-uploads --max-bytes --format --tag" ;;
      esac ;;
    keys)
      case "$sub" in
        "") mapfile -t COMPREPLY < <(compgen -W "create list revoke --help" -- "$cur"); return ;;
        create) flags="--role --name --key-tenant --rate" ;;
      esac ;;
  esac
  [[ $cmd == usage ]] && flags="--from --to --client"

  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$flags $global" -- "$cur")
    return
  fi
  case "$cmd" in
    upload | transform | similar)
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      compopt -o filenames 2>/dev/null
      ;;
    *) COMPREPLY=() ;;
  esac
}

complete -F _progimage_cli progimage-cli
