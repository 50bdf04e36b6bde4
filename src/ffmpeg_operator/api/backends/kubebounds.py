"""What the CRD refuses although datarhei accepts it."""

from __future__ import annotations

from ffmpeg_operator.core.errors import ConfigError
from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.kube.crd import MAX_IO_ADDRESS_LENGTH, MAX_IO_ID_LENGTH, MAX_IOS

#: Kubernetes integers are int64; datarhei's uints go up to 2**64-1.
INT64_MAX = 2**63 - 1


def check_kubernetes_bounds(config: ProcessConfig) -> None:
    """What the CRD refuses although datarhei accepts it: raise :class:`ConfigError`."""
    for direction, ios in (("inputs", config.input), ("outputs", config.output)):
        if len(ios) > MAX_IOS:
            raise ConfigError(f"at most {MAX_IOS} {direction} are possible on Kubernetes")
        for io in ios:
            if len(io.id) > MAX_IO_ID_LENGTH:
                raise ConfigError(
                    f"the ID of an input or output may have at most {MAX_IO_ID_LENGTH} "
                    "characters on Kubernetes"
                )
            if len(io.address) > MAX_IO_ADDRESS_LENGTH:
                raise ConfigError(
                    f"the address of an input or output may have at most "
                    f"{MAX_IO_ADDRESS_LENGTH} characters on Kubernetes"
                )
            for rule in io.cleanup:
                _check_int64("max_files", rule.max_files)
                _check_int64("max_file_age_seconds", rule.max_file_age_seconds)
    _check_int64("reconnect_delay_seconds", config.reconnect_delay_seconds)
    _check_int64("stale_timeout_seconds", config.stale_timeout_seconds)
    _check_int64("limits.memory_mbytes", config.limits.memory_mbytes)
    _check_int64("limits.waitfor_seconds", config.limits.waitfor_seconds)


def _check_int64(name: str, value: int) -> None:
    if value > INT64_MAX:
        raise ConfigError(f"{name} must be at most {INT64_MAX} on Kubernetes (int64)")
