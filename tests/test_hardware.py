"""The machine: device and precision."""

import pytest
import torch

from colorizekit import hardware


def _cpuinfo(tmp_path, flags: str) -> str:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: {flags}\n\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("flags, native", [
    ("fpu sse avx2 avx512f avx512bw", False),  # AVX-512 without its bf16 extension is not native bf16
    ("fpu avx2 avx512f avx512_bf16", True),
    ("fpu avx2 amx_tile amx_bf16", True),
])
def test_cpu_native_bf16_reads_the_capability_flags(tmp_path, flags, native):
    found, why = hardware.cpu_native_bf16.__wrapped__(_cpuinfo(tmp_path, flags))
    assert found is native
    assert ("natively" in why) is native


def test_cpu_native_bf16_without_cpuinfo(tmp_path):
    found, why = hardware.cpu_native_bf16.__wrapped__(str(tmp_path / "missing"))
    assert not found and "could not be read" in why


def test_auto_precision_on_cpu_follows_the_capability(monkeypatch):
    for native in (True, False):
        monkeypatch.setattr(hardware, "cpu_native_bf16", lambda native=native: (native, "why"))
        dtype, reason = hardware.resolve_precision("auto", torch.device("cpu"))
        assert dtype == (torch.bfloat16 if native else torch.float32)
        assert reason == "auto: why"


def test_resolve_device():
    assert hardware.resolve_device("cpu") == torch.device("cpu")
    assert hardware.resolve_device(None).type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            hardware.resolve_device("cuda")


def test_cpu_name_reads_the_model_name(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n", encoding="utf-8")
    assert hardware.cpu_name(str(path)) == "AMD EPYC 7B13"
    assert hardware.cpu_name(str(tmp_path / "missing")) == "CPU"
