import numpy as np
import pytest

from spasmwatch import Gap, SampleBlock, StreamSpec
from spasmwatch.errors import SignalError, SpasmwatchError


def _spec(**kw):
    base = dict(device="myo", kind="emg", channels=("c1", "c2"), rate_hz=200, units="counts")
    base.update(kw)
    return StreamSpec(**base)


def test_streamspec_normalises_and_exposes_key():
    s = _spec(channels=["c1", "c2"])
    assert s.channels == ("c1", "c2")
    assert s.rate_hz == 200.0 and isinstance(s.rate_hz, float)
    assert s.key == "myo.emg"
    assert s.period_ns == pytest.approx(5e6)
    assert StreamSpec.from_dict(s.to_dict()) == s


@pytest.mark.parametrize(
    "kw, needle",
    [
        (dict(device="My Device"), "StreamSpec.device"),
        (dict(kind="eeg"), "StreamSpec.kind"),
        (dict(channels=()), "StreamSpec.channels"),
        (dict(channels=("a", "a")), "StreamSpec.channels"),
        (dict(rate_hz=0), "> 0 Hz"),
        (dict(rate_hz=float("nan")), "finite"),
        (dict(rate_hz=True), "StreamSpec.rate_hz"),
        (dict(units=""), "StreamSpec.units"),
    ],
)
def test_streamspec_rejects_bad_values_naming_the_field(kw, needle):
    with pytest.raises(SignalError, match=needle):
        _spec(**kw)


def test_errors_share_one_root():
    assert issubclass(SignalError, SpasmwatchError)


def test_errors_survive_pickling_with_their_reason():
    """Workers (training frames, evaluation) hand errors back to the parent by pickling."""
    import pickle

    from spasmwatch.errors import ModelError

    e = pickle.loads(pickle.dumps(ModelError("rate 10 Hz < 25 Hz", reason="rate")))
    assert type(e) is ModelError and str(e) == "rate 10 Hz < 25 Hz" and e.reason == "rate"


def test_gap_validation_and_roundtrip():
    g = Gap(10, 30, 4, "packet_loss")
    assert g.duration_s == pytest.approx(2e-8)
    assert Gap.from_dict(g.to_dict()) == g
    with pytest.raises(SignalError, match="end_ns"):
        Gap(30, 10, 1)
    with pytest.raises(SignalError, match="cause"):
        Gap(1, 2, 1, "gremlins")
    with pytest.raises(SignalError, match="n_missing"):
        Gap(1, 2, -1)


def test_sampleblock_validates_shape_dtype_and_freezes_arrays():
    spec = _spec()
    t = np.arange(4, dtype=np.int64) * 5_000_000
    b = SampleBlock(spec, t, np.ones((4, 2)), first_index=8)
    assert b.data.dtype == np.float32
    assert len(b) == 4 and b.end_index == 12
    with pytest.raises(ValueError):
        b.data[0, 0] = 3.0
    with pytest.raises(SignalError, match=r"shape \(n_samples=4, n_channels=2\)"):
        SampleBlock(spec, t, np.ones((4, 3)))
    with pytest.raises(SignalError, match="int64"):
        SampleBlock(spec, t.astype(np.float64), np.ones((4, 2)))
    with pytest.raises(SignalError, match="backwards"):
        SampleBlock(spec, t[::-1].copy(), np.ones((4, 2)))
    with pytest.raises(SignalError, match="first_index"):
        SampleBlock(spec, t, np.ones((4, 2)), first_index=-1)


def test_sampleblock_does_not_alias_caller_arrays():
    spec = _spec(channels=("c1",))
    t = np.arange(3, dtype=np.int64)
    x = np.zeros((3, 1), dtype=np.float32)
    b = SampleBlock(spec, t, x)
    x[0, 0] = 5
    t[0] = 99
    assert b.data[0, 0] == 0 and b.t_ns[0] == 0
