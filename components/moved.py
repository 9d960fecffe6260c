"""Aliases for resources that moved out of a component, so that an update keeps them instead of replacing them."""

from __future__ import annotations

import pulumi


def moved_from_component(parent: pulumi.Resource, component_name: str, component_type: str) -> list[pulumi.Input[str] | pulumi.Alias]:
    """Aliases for a child of ``parent`` that used to be a child of the component ``component_type`` named ``component_name``.

    Earlier versions grouped the Config rules and the Lambda path in components of their own under
    the account-region; their children now sit directly under it. The alias names the old parent's
    URN, so the engine finds the existing resource under its old URN and moves it.
    """
    return [pulumi.Alias(parent=pulumi.create_urn(component_name, component_type, parent=parent))]
