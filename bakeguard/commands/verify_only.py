"""`--guard-verify-only`: verify what the arguments would push, building nothing."""

from __future__ import annotations

from bakeguard.errors import (
    UsageError,
    VerificationFailed,
)
from bakeguard.session import Session


def verify_only(session: Session) -> int:
    env_f = session.start_probe()
    defn, why = session.start_resolve().result()
    if defn is None:
        raise UsageError(f"cannot resolve the bake definition: {why}", "fix the bake arguments")
    env = env_f.result()
    session.note_env(env)
    session.record["mode"] = "verify-only"
    from bakeguard.attestations import wanted_for
    from bakeguard.registry.verdict import advice
    from bakeguard.registry.verify import expectations

    exps = expectations(defn, wanted=wanted_for(env, session.profiles.compat, session.environ))
    if not exps:
        raise UsageError(
            "--guard-verify-only: nothing to verify, no target pushes a tag with these arguments",
            "pass the same arguments as the push, e.g. --push",
        )
    outcomes = session.verify(exps, env)
    if not all(o.ok for o in outcomes):
        raise VerificationFailed(
            "verification failed (see the table above)",
            advice(outcomes, "push again, or check the registry", suggest_split=False),
        )
    return 0
