"""Membership-inference attacks, one module each, behind a registry keyed by stable names."""

from expunge.audit.attacks._protocol import Attack, AttackInputs, available_attacks, get_attack, register_attack

__all__ = ["Attack", "AttackInputs", "available_attacks", "get_attack", "register_attack"]
