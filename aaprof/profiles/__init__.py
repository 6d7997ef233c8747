"""AppArmor policy: grammar, build (text → model), render (model → text), includes."""
