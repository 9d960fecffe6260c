"""Pure, Pulumi-free core shared by the program and the operator CLI: the rule catalog and stack settings."""
