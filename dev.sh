#!/usr/bin/env bash
# The project's one entry point for people and CI.
#   ./dev.sh demo          install aaprof into .venv and run the main job on the node story in
#                          sample-logs/node-*: a summary of the records, then profiles +
#                          Kubernetes bundle in demo-output/ (rewritten by each run)
#   ./dev.sh test [ARGS]   install everything the tests need, then ruff, mypy --strict and pytest
#   ./dev.sh venv          only (re)create .venv with aaprof and its test tools
#   ./dev.sh cluster up|down|build
#                          a real Kubernetes control plane on 127.0.0.1 (etcd, kube-apiserver,
#                          kube-controller-manager, kube-scheduler, built from their pinned Go
#                          modules and cached outside the clone): `eval "$(./dev.sh cluster up)"`
#                          sets KUBECONFIG; `down` stops it and removes its data (docs/cluster.md);
#                          `up --node` also boots the qemu AppArmor VM as its node (containerd,
#                          the kubelet)
#   ./dev.sh image [OUT]   build the aaprof image, the one the loader and watch DaemonSets run
#                          (Debian packages + the aaprof wheel, no registry; as root): OUT
#                          (default ./aaprof-image) gets an OCI layout, aaprof.oci.tar to import
#                          on a node or push, and the unpacked runc bundle (docs/kubernetes.md)
#   ./dev.sh golden        regenerate the pipeline's golden files (tests/golden/expected/), on
#                          purpose, after a change to what aaprof writes; review with git diff
# System packages come from Debian/Ubuntu's apt (with sudo when not root); the lists are in
# scripts/apt-demo.txt and scripts/apt-test.txt. Python packages go into ./.venv, which is made
# from the system's /usr/bin/python3 with --system-site-packages so that Debian's
# python3-libapparmor (the benchmark's reference) is importable from it.
set -euo pipefail
cd "$(dirname "$0")"
root=$PWD
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

apt_install() {  # install the packages named in the given list files that are missing
    local missing=()
    local pkg
    for pkg in $(grep -hv '^#' "$@"); do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "dev.sh: installing system packages: ${missing[*]}" >&2
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

make_venv() {  # $1: pip extras
    if [ ! -x .venv/bin/python ]; then
        /usr/bin/python3 -m venv --system-site-packages .venv
    fi
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$1]"
}

cmd=${1:-demo}
[ $# -gt 0 ] && shift
case "$cmd" in
    demo)
        # The story (scripts/sample-logs.py): a shop's pods on nodes that log differently, nginx
        # under a complain-mode profile (learnt from), redis enforced. The kernel captures in
        # sample-logs/kernel/ are test inputs, not part of it (their README).
        apt_install scripts/apt-demo.txt
        make_venv journal
        logs=(sample-logs/node-*)
        echo "+ aaprof events --summary ${logs[*]}" >&2
        .venv/bin/aaprof events --summary "${logs[@]}"
        rm -rf demo-output
        echo "+ aaprof generate ${logs[*]} --out demo-output" >&2
        .venv/bin/aaprof generate "${logs[@]}" --out demo-output
        echo >&2
        echo "Where to look:" >&2
        for f in demo-output/profiles/*; do
            echo "  $f   the profile learnt from the records (complain mode)" >&2
        done
        echo "  demo-output/k8s/   the Kubernetes bundle: kubectl apply -k demo-output/k8s" >&2
        echo "                     (docs/kubernetes.md); its loader runs the aaprof image (as does" >&2
        echo "                     aaprof watch's DaemonSet): build it with ./dev.sh image, then" >&2
        echo "                     import it on the nodes or push it (--image REGISTRY/aaprof:TAG)" >&2
        echo "Next: decide rule by rule with keys, then check what the profiles still lack:" >&2
        echo "  .venv/bin/aaprof review ${logs[*]} --profiles demo-output" >&2
        echo "  .venv/bin/aaprof generate --check ${logs[*]} --out demo-output" >&2
        echo "  docs/generate.md   the workflow, and what was proposed and why; docs/events.md for the records" >&2
        ;;
    image)
        apt_install scripts/apt-demo.txt scripts/apt-image.txt
        exec "${sudo_cmd[@]}" scripts/build-image.sh "$@"
        ;;
    golden)
        make_venv journal,test,cri
        exec .venv/bin/python scripts/update-golden.py
        ;;
    venv)
        apt_install scripts/apt-demo.txt scripts/apt-test.txt scripts/apt-image.txt
        make_venv journal,test,cri
        ;;
    test)
        apt_install scripts/apt-demo.txt scripts/apt-test.txt scripts/apt-image.txt \
            scripts/apt-cluster.txt
        make_venv journal,test,cri
        # AppArmor's parser suite (GPL, never committed) for tests/profiles/test_parser_suite.py;
        # cached in .cache/apparmor-suite; without it that test skips
        scripts/fetch-parser-suite.sh || echo "dev.sh: could not fetch the parser suite" >&2
        # the real Kubernetes control plane's programs (tests/cluster), from their pinned Go
        # modules; cached outside the clone, so only the first run on a machine builds them
        go_bin=$(scripts/install-go.sh)  # Go >= 1.26: the one on PATH, or Go's own from the proxy
        export PATH="$go_bin:$PATH"
        echo "+ tests/cluster/build-go.sh kubernetes etcd containerd cni crictl" >&2
        tests/cluster/build-go.sh kubernetes >/dev/null
        tests/cluster/build-go.sh etcd >/dev/null
        tests/cluster/build-go.sh containerd >/dev/null
        tests/cluster/build-go.sh cni >/dev/null     # the node's (tests/cluster/node.py)
        tests/cluster/build-go.sh crictl >/dev/null
        export PATH="$root/.venv/bin:$PATH"
        echo "+ ruff check && ruff format --check" >&2
        ruff check aaprof tests benchmarks
        ruff format --check aaprof tests benchmarks
        echo "+ lint-imports (the arrows between packages)" >&2
        lint-imports
        echo "+ mypy --strict" >&2
        mypy
        echo "+ pytest" >&2
        exec pytest "$@"
        ;;
    cluster)
        # stdlib Python only, so that it runs before .venv exists; openssl makes its PKI
        apt_install scripts/apt-cluster.txt
        go_bin=$(scripts/install-go.sh)
        export PATH="$go_bin:$PATH"
        python=/usr/bin/python3
        case " $* " in
            *" --node "*)  # the node VM's Python image is built from the virtualenv's modules
                apt_install scripts/apt-test.txt
                make_venv journal,test,cri
                python=$root/.venv/bin/python ;;
        esac
        exec "$python" tests/cluster/controlplane.py "$@"
        ;;
    *)
        echo "usage: ./dev.sh demo | test [pytest args] | venv | image [OUT] | golden | cluster up|down|build" >&2
        exit 2
        ;;
esac
