"""The review's tree: namespace → workload → container → profile, each with its count of
undecided rules (the engine's `review.tree`, shown; labels plain text, never markup)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from aaprof.engine import review as r

ALL = "all profiles"


class ReviewTree(Tree[r.Node | None]):
    """The root is every profile (data None); each node's data is its `review.Node`."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(ALL, id=id)
        self.guide_depth = 2
        self.by_key: dict[str, TreeNode[r.Node | None]] = {}
        self.labels: dict[str, str] = {}  # each node's label as last set

    def show(self, nodes: Sequence[r.Node], counts: Mapping[str, int]) -> None:
        """Replace the tree with `nodes`, every branch open, labelled with `counts`."""
        self.clear()
        self.root.data = None
        self.root.expand()
        self.by_key = {"": self.root}
        self.labels = {}

        def add(parent: TreeNode[r.Node | None], node: r.Node) -> None:
            if node.children:
                branch = parent.add(Text(node.label), data=node, expand=True)
                self.by_key[node.key] = branch
                for child in node.children:
                    add(branch, child)
            else:
                self.by_key[node.key] = parent.add_leaf(Text(node.label), data=node)

        for node in nodes:
            add(self.root, node)
        self.count(counts)

    def count(self, counts: Mapping[str, int]) -> None:
        """Label each node with its undecided rules (`(done)` at none); only changed labels
        are set, so a decision redraws what it changed."""
        for key, tnode in self.by_key.items():
            node = tnode.data
            if node is None:
                label = f"({sum(counts.values())}) {ALL}"
            else:
                n = r.node_count(node, counts)
                label = f"({n}) {node.label}" if n else f"(done) {node.label}"
            if self.labels.get(key) != label:
                self.labels[key] = label
                tnode.set_label(Text(label))
