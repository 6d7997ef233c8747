# aaprof profile loader: `aaprof node load --watch --prune` over the ConfigMap's files
# (docs/node.md): validates each profile, loads it with replace, verifies it in securityfs,
# never replaces a profile it did not load, and unloads a removed one only when unused.
# AAPROF_MODE=complain (set on the DaemonSet: every node) reloads them all in complain mode;
# AAPROF_ACTION=unload runs `aaprof node unload --watch`: unloads what this loader loaded,
# and nothing else, then stays Ready (the uninstall, docs/kubernetes.md).
set -u
say() { echo "aaprof-loader: $*" >&2; }
for tool in aaprof apparmor_parser; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    say "this image has no $tool: build the aaprof image (./dev.sh image, docs/kubernetes.md)"
    exit 1
  fi
done
state=/var/lib/aaprof/node
case "${AAPROF_ACTION:-load}" in
  load) ;;
  unload) exec aaprof node unload --watch --resync "${AAPROF_INTERVAL:-60}" --state "$state" ;;
  *) say "AAPROF_ACTION=${AAPROF_ACTION}: use load or unload"; exit 1 ;;
esac
case "${AAPROF_MODE:-complain}" in
  enforce) mode=as-written ;;  # the profiles' own flags stand
  *) mode=complain ;;          # forced, whatever the flags say
esac
set -- --mode "$mode" --resync "${AAPROF_INTERVAL:-60}" --state "$state"
if [ -d /host/etc/apparmor.d/tunables ]; then
  # Resolve includes against the node's own abstractions and tunables.
  set -- "$@" --base /host/etc/apparmor.d
fi
exec aaprof node load /profiles --watch --prune "$@"
