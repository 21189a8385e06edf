# Type stubs for the compiled binding (src/fastfrac/_core.pyx).  The float
# arrays x may be float32, float64, float16 or ml_dtypes' bfloat16.
import numpy as np

MAX_P_I32: int
MAX_P_I64: int
MAX_DEN_I32: int
MAX_DEN_I64: int

def available_isas() -> list[str]: ...
def selected_isa() -> str: ...
def _force_isa(name: str) -> None: ...
def openmp_enabled() -> bool: ...
def approximate(
    x: np.ndarray, p: int, exact: bool, wide: bool, threads: int = 1
) -> tuple[np.ndarray, np.ndarray, int]: ...
def limit(
    x: np.ndarray, max_den: np.ndarray, exact: bool, wide: bool, threads: int = 1
) -> tuple[np.ndarray, np.ndarray, int]: ...
def limit_bounded(
    x: np.ndarray, max_den: np.ndarray, max_num: np.ndarray, exact: bool
) -> tuple[np.ndarray, np.ndarray]: ...
def max_denominator(x: np.ndarray, p: int, cap: int) -> np.ndarray: ...
def to_float(
    num: np.ndarray, den: np.ndarray, digits: int, threads: int = 1
) -> tuple[np.ndarray, int]: ...
def shortest_digits(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

FUSED_OK: int
FUSED_NONFINITE: int
FUSED_OVERFLOW: int

def fused(
    x: np.ndarray,
    p: int,
    exact: bool,
    digits: int,
    out: np.ndarray,
    want_fractions: bool,
    threads: int = 1,
    plane_widths: tuple[int, int] | None = None,
) -> tuple[int, int, float, float, int, np.ndarray | None, np.ndarray | None,
           tuple[str, str] | None]:
    """(status, index, max_abs_error, max_rel_error, bits, num, den, types) of one chunk.

    x flat and contiguous; out of x's dtype and length receives the values
    (meaningful only when status == FUSED_OK); digits 0 keeps num/den exact;
    num and den (int64) are None unless want_fractions; with plane_widths
    they are instead uint8 byte planes of shape (width, len(x)).
    """
def _round_from_f64(x: np.ndarray, out: np.ndarray) -> None: ...
def int64_narrowest(v: np.ndarray) -> tuple[int, bool]: ...
def int64_to_planes(v: np.ndarray, width: int) -> np.ndarray: ...
def planes_to_int64(planes: bytes | np.ndarray, n: int, width: int, is_signed: bool) -> np.ndarray: ...
