"""A run's registry compatibility profiles: the ones set (BAKEGUARD_COMPAT) over the ones
remembered (bakeguard.learned), the one retry after a known rejection of BuildKit's push, and
what that retry teaches: only a retry that worked is remembered or advised."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bakeguard import log
from bakeguard.definition import Definition
from bakeguard.options import GuardOptions

if TYPE_CHECKING:
    from bakeguard import compat as compat_


@dataclass
class Profiles:
    opts: GuardOptions
    environ: Mapping[str, str]
    record: dict[str, Any]  # the run's report
    say: Callable[[str, str], None]  # a line of the decision, before bake (Session.say)
    rejection: compat_.Rejection | None = None  # what `retry_for` retried once

    @functools.cached_property
    def compat(self) -> compat_.Compat:
        """The profiles of this run: BAKEGUARD_COMPAT / --guard-compat over what earlier
        runs' retries proved (bakeguard.learned, unless BAKEGUARD_COMPAT_MEMORY=false)."""
        from bakeguard import compat as compat_
        from bakeguard import learned

        remembered = learned.load(self.environ) if self.opts.compat_memory else {}
        return dataclasses.replace(compat_.parse(self.opts.compat), remembered=remembered)

    def say_remembered(self, defn: Definition) -> None:
        """One line per host whose profile this run takes from memory (recorded in the
        report's `compat_remembered`)."""
        from bakeguard.refs import Reference

        refs = (r for t in defn.pushing for r in t.push_refs)
        hosts = dict.fromkeys(Reference.parse(r).registry for r in refs)
        # (dict.fromkeys: one entry for a registry pushed to by both its loopback names)
        found = (e for e in map(self.compat.remembered_for, hosts) if e is not None)
        used = list(dict.fromkeys(found))
        for e in used:
            self.say(
                "info",
                f"registry {e.host}: the {e.profile} profile, as remembered since {e.since} "
                "(a retry with it worked then: `--guard-doctor` says why, "
                f"`--guard-forget-compat={e.host}` forgets it)",
            )
        self.record["compat_remembered"] = [e._asdict() for e in used]

    def retry_for(
        self,
        text: str,
        defn: Definition | None,
        applied: compat_.Compat | None = None,
        engine: bool = False,
    ) -> compat_.Compat | None:
        """After a failed push: the profile that fits a known rejection of BuildKit's push,
        if any. --guard=auto retries once with it (`retrying`); otherwise bakeguard names the
        profile as a lead, untried. Never a second time: a failed retry teaches nothing.
        `applied`: the profiles the failed push had; one as strict as the fitting profile
        already was there, so a retry could change nothing. `engine`: bake on this builder
        pushes a second time through the engine, whose errors are no rejection of BuildKit's
        push (compat.classify)."""
        if defn is None or self.rejection is not None:
            return None
        from bakeguard import compat as compat_
        from bakeguard.refs import Reference

        hosts = [Reference.parse(r).registry for t in defn.pushing for r in t.push_refs]
        found = compat_.detect(text, hosts, engine)
        if found is None:
            return None
        host, profile = found.host, found.profile
        self.record.setdefault("compat_detected", []).append({"host": host, "profile": profile})
        had = applied.for_host(host) if applied is not None else None
        if had is not None and compat_.STRICTNESS[had] >= compat_.STRICTNESS[profile]:
            kept = applied.remembered_for(host) if applied is not None else None
            why = f"remembered since {kept.since}" if kept else "set in BAKEGUARD_COMPAT"
            log.get().warning(
                [
                    f"the registry {host} rejected the push with the {had} profile ({why}) "
                    f"already applied: {found.line}",
                    "  no profile is stricter, so no retry",
                ]
            )
            return None
        if self.opts.guard != "auto":
            log.get().warning(
                [
                    f"the registry {host} rejected the push: {found.line}",
                    f"  the {profile} profile may fit ({compat_.DESCRIPTIONS[profile]}); "
                    f"untried under --guard={self.opts.guard}: --guard=auto tries it once",
                ]
            )
            return None
        self.rejection = found
        log.get().warning(
            [
                f"the registry {host} rejected the push in a known way: {found.line}",
                f"  rebuilding from cache, once, with the {profile} profile "
                f"({compat_.DESCRIPTIONS[profile]})",
            ]
        )
        return compat_.Compat(hosts={host: profile})

    def engine_failed(self, text: str, engine: bool) -> bool:
        """When a plain bake failed in the engine's second push alone: say so, and that no
        profile was tried (the registry took BuildKit's push; what the engine pushes no
        profile changes). Whether it did."""
        from bakeguard import compat as compat_

        line = compat_.engine_failure(text, engine) if engine else None
        if line is None:
            return False
        log.get().warning(
            [
                f"bake failed in the engine's second push, after BuildKit's own push: {line}",
                "  buildx < 0.22 on the docker driver pushes each tag again through the engine "
                '("pushing NAME with docker", advisory docker-driver-double-push); no registry '
                "profile changes that push, so none is tried or remembered",
                "  fix: upgrade buildx to >= 0.22.0, or build with a docker-container builder "
                "(docker buildx create --use)",
            ]
        )
        return True

    def retrying(self, run: Callable[[], int]) -> int:
        """The one retry `retry_for` chose; only a retry that ended well is advice. One that
        ends in an error (its push verified incomplete, ...) is a failed retry: it teaches
        nothing."""
        try:
            code = run()
        except BaseException:
            if self.rejection is not None:
                self.record["compat_detected"][-1].setdefault("retry", "failed")
            raise
        found = self.rejection
        if code == 0 and found is not None:
            from bakeguard import compat as compat_
            from bakeguard import learned

            detected = self.record["compat_detected"][-1]
            detected["retry"] = "succeeded"
            # a profile set for the host (or for every host) wins over what is remembered:
            # remembering would promise "up front" and the next run would retry again
            setting = compat_.parse(self.opts.compat).for_host(found.host)
            kept = None
            if self.opts.compat_memory and setting is None:
                kept = learned.learn(self.environ, found.host, found.profile, found.line)
            detected["remembered"] = kept is not None
            if setting is not None:
                log.get().info(
                    f"the {found.profile} profile worked for {found.host}, where "
                    f"BAKEGUARD_COMPAT / --guard-compat gives {setting} (a setting wins over "
                    "what bakeguard remembers, so this is not remembered). To skip the retry "
                    f"next time, set BAKEGUARD_COMPAT={found.host}={found.profile} there"
                )
            elif kept is not None:
                log.get().info(
                    f"the {found.profile} profile worked for {found.host}; remembered: the "
                    f"next runs use it up front (`bakeguard --guard-forget-compat={found.host}` "
                    "forgets it)"
                )
            else:
                log.get().info(
                    f"the {found.profile} profile worked for {found.host}. To skip the retry "
                    f"next time, set BAKEGUARD_COMPAT={found.host}={found.profile} "
                    f"(or --guard-compat={found.profile})"
                )
        return code

    def retry_failed(self, text: str) -> None:
        """The retry's bake failed too: both errors, and no setting advised."""
        from bakeguard import compat as compat_

        found = self.rejection
        assert found is not None
        self.record["compat_detected"][-1]["retry"] = "failed"
        lines = compat_.error_lines(text)
        log.get().error(
            [
                f"the retry with the {found.profile} profile failed too, so no setting is "
                f"advised for {found.host}.",
                f"  first push: {found.line}",
                f"  retry: {lines[-1] if lines else 'bake failed (see its output above)'}",
            ]
        )

    def after_failed_push(self) -> None:
        """A push that used a remembered profile failed anyway: the registry may have
        changed since, and how to forget is worth a line."""
        for e in self.record.get("compat_remembered") or []:
            log.get().warning(
                f"this run used the {e['profile']} profile remembered for {e['host']}; if that "
                f"registry changed, `bakeguard --guard-forget-compat={e['host']}` forgets it"
            )
