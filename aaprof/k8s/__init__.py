"""The Kubernetes bundle: workload patches, a profile loader DaemonSet and SPO profiles."""
