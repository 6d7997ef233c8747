# aaprof profile loader: (re)load every profile in /profiles whenever their checksum changes.
set -u
say() { echo "aaprof-loader: $*"; }
if ! command -v apparmor_parser >/dev/null 2>&1; then
  # Only for an image without apparmor_parser (the default debian image): needs the network.
  say "installing apparmor (use an image with apparmor_parser to skip this)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends apparmor >/dev/null || exit 1
fi
if [ ! -d /sys/kernel/security/apparmor ]; then
  say "AppArmor is not enabled on this node: nothing to load"
  exec sleep infinity
fi
set -- --replace --skip-cache
if [ -d /host/etc/apparmor.d/tunables ]; then
  # Resolve includes against the node's own abstractions and tunables.
  set -- "$@" --base /host/etc/apparmor.d --Include /host/etc/apparmor.d
fi
if [ "$AAPROF_MODE" = complain ]; then
  set -- "$@" --Complain
fi
last=""
while :; do
  sum=$(cat /profiles/* 2>/dev/null | sha256sum)
  if [ "$sum" != "$last" ]; then
    rm -f /run/aaprof-loaded
    failed=0
    for f in /profiles/*; do
      [ -f "$f" ] || continue
      if apparmor_parser "$@" "$f"; then
        say "loaded ${f#/profiles/}"
      else
        say "FAILED to load ${f#/profiles/}"
        failed=1
      fi
    done
    [ "$failed" = 0 ] && touch /run/aaprof-loaded
    last=$sum
  fi
  sleep "$AAPROF_INTERVAL"
done
