# aaprof profile loader: `aaprof node load --watch --prune` over the ConfigMap's files
# (docs/node.md): validates each profile, loads it with replace, verifies it in securityfs,
# never replaces a profile it did not load, and unloads a removed one only when unused.
set -u
say() { echo "aaprof-loader: $*" >&2; }
for tool in aaprof apparmor_parser; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    say "this image has no $tool: build the aaprof image (./dev.sh image, docs/kubernetes.md)"
    exit 1
  fi
done
case "${AAPROF_MODE:-complain}" in
  enforce) mode=as-written ;;  # the profiles' own flags stand
  *) mode=complain ;;          # forced, whatever the flags say
esac
set -- --mode "$mode" --resync "${AAPROF_INTERVAL:-60}" --state /var/lib/aaprof/node
if [ -d /host/etc/apparmor.d/tunables ]; then
  # Resolve includes against the node's own abstractions and tunables.
  set -- "$@" --base /host/etc/apparmor.d
fi
exec aaprof node load /profiles --watch --prune "$@"
