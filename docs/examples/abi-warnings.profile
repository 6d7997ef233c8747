# no abi pinned: the parser's default feature set applies
include <tunables/global>
profile builder {
  deny userns,
  network,
  /usr/bin/buildah mrix,
}
