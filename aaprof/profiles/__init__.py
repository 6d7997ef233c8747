"""AppArmor profiles: parse, model, check coverage and render the policy language."""
