"""Which BLAS kernel this PyTorch process really runs: asks the loaded OpenBLAS through ctypes."""
import ctypes
import os


def openblas():
    """(core name, config string) of the OpenBLAS mapped into this process, or ("none", reason)."""
    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps if "libopenblas" in line})
    if not paths:
        return "none", "no libopenblas loaded (reference BLAS?)"
    lib = ctypes.CDLL(paths[0])
    lib.openblas_get_corename.restype = ctypes.c_char_p
    lib.openblas_get_config.restype = ctypes.c_char_p
    return lib.openblas_get_corename().decode(), lib.openblas_get_config().decode()


def describe():
    core, config = openblas()
    return {"openblas_core": core, "openblas_config": config,
            "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE"), "openblas_l2_size_env": os.environ.get("OPENBLAS_L2_SIZE")}
