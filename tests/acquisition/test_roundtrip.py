"""encode -> decode round trips for every decoder (Hypothesis), and chunked == whole."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import chunk_sizes, int_counts, smooth_counts, uint_wrapping

from spasmwatch.acquisition._codecs import make_decoder, make_decoders, make_encoder
from spasmwatch.acquisition._polar import (
    PMD_DEFAULT_CLOCK_NS,
    build_pmd_cp_response,
    decode_delta_payload,
    encode_delta_payload,
    pmd_settings_bytes,
)
from spasmwatch.acquisition._profiles import load_profiles

PROFILES = load_profiles()
H10 = PROFILES["polar-h10"]
VERITY = PROFILES["polar-verity-sense"]
MYO = PROFILES["myo"]
MOVESENSE = PROFILES["movesense"]
NUS = PROFILES["nus-reference"]
FAST = settings(max_examples=60)


def decode_all(profile, notes):
    decs = {}
    out = []
    for uuid, data in notes:
        if uuid not in decs:
            decs[uuid] = make_decoder(profile, uuid)
        out.extend(decs[uuid].decode(data))
    return out


def stack(frames, kind):
    return np.concatenate([f.samples for f in frames if f.kind == kind])


# ---------------------------------------------------------------------------- Polar


@FAST
@given(
    counts=int_counts(3, -32768, 32767, max_samples=120),
    spf=st.integers(1, 40),
    t0=st.integers(0, 2**62),
)
def test_polar_raw_acc_roundtrip(counts, spf, t0):
    enc = make_encoder(H10, "acc", samples_per_frame=spf)
    notes = enc.encode(counts.astype(float), device_time_ns=t0)
    assert len(notes) == -(-len(counts) // spf)
    frames = decode_all(H10, notes)
    np.testing.assert_array_equal(stack(frames, "acc"), counts)
    # each frame carries the device time of its last sample
    period = 1e9 / H10.stream("acc").rate_hz
    lasts = np.cumsum([f.n_samples for f in frames]) - 1
    assert [f.device_time_ns for f in frames] == [t0 + round(i * period) for i in lasts]


@FAST
@given(counts=int_counts(1, -(2**23), 2**23 - 1, max_samples=200), spf=st.integers(1, 80))
def test_polar_ecg_roundtrip(counts, spf):
    enc = make_encoder(H10, "ecg", samples_per_frame=spf)
    frames = decode_all(H10, enc.encode(counts.astype(float)))
    np.testing.assert_array_equal(stack(frames, "ecg"), counts)
    assert frames[0].device_time_ns == PMD_DEFAULT_CLOCK_NS + round(
        (frames[0].n_samples - 1) * 1e9 / 130
    )


@FAST
@given(
    counts=smooth_counts(3, -32768, 32767, max_samples=300),
    extra_width=st.integers(0, 15),
    block=st.integers(1, 255),
)
def test_delta_payload_roundtrip_random_widths(counts, extra_width, block):
    d = np.diff(counts, axis=0)
    need = 1
    if d.size:
        x = np.where(d < 0, ~d, d)
        need = int(x.max()).bit_length() + 1
    width = min(need + extra_width, 32)
    payload = encode_delta_payload(counts, 16, bit_width=width, block_size=block)
    np.testing.assert_array_equal(decode_delta_payload(payload, 3, 16), counts)
    # minimal widths (what a device does) decode the same, in no more bytes
    tight = encode_delta_payload(counts, 16, block_size=block)
    assert len(tight) <= len(payload)
    np.testing.assert_array_equal(decode_delta_payload(tight, 3, 16), counts)


def test_delta_encoder_rejects_too_small_width():
    with pytest.raises(ValueError, match="cannot hold"):
        encode_delta_payload(np.array([[0, 0, 0], [100, 0, 0]]), 16, bit_width=4)


@FAST
@given(counts=smooth_counts(3, -32768, 32767, max_samples=150), spf=st.integers(1, 60))
def test_polar_delta_0x81_roundtrip_through_profile_factor(counts, spf):
    enc = make_encoder(H10, "acc", frame_type=0x81, samples_per_frame=spf)
    frames = decode_all(H10, enc.encode(counts.astype(float)))
    np.testing.assert_array_equal(stack(frames, "acc"), counts)


@FAST
@given(counts=smooth_counts(3, -32768, 32767, max_samples=150), spf=st.integers(1, 60))
def test_verity_delta_0x80_roundtrip_with_learned_factor(counts, spf):
    """The simulator's start response carries FACTOR; the wired CP decoder hands it to the
    data decoder; encoder and decoder then agree to the last count."""
    factor = 2.44e-4
    enc = make_encoder(VERITY, "acc", samples_per_frame=spf, factor=factor)
    mg = counts * enc.scale
    decs = make_decoders(VERITY)
    cp_uuid, _data_uuid = VERITY.notify_characteristics()
    decs[cp_uuid].decode(build_pmd_cp_response(2, 2, params=pmd_settings_bytes({"factor": factor})))
    out = []
    for uuid, data in enc.encode(mg):
        assert data[9] == 0x80
        out.extend(decs[uuid].decode(data))
    got = stack(out, "acc")
    np.testing.assert_allclose(got, mg, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(np.rint(got / enc.scale), counts)


@FAST
@given(counts=int_counts(3, -32768, 32767, max_samples=120), sizes=st.data())
def test_polar_chunked_encoding_equals_whole(counts, sizes):
    chunks = sizes.draw(chunk_sizes(len(counts)))
    whole = decode_all(H10, make_encoder(H10, "acc").encode(counts.astype(float)))
    enc = make_encoder(H10, "acc")
    parts = []
    i = 0
    for n in chunks:
        parts.extend(enc.encode(counts[i : i + n].astype(float)))
        i += n
    chunked = decode_all(H10, parts)
    np.testing.assert_array_equal(stack(chunked, "acc"), stack(whole, "acc"))
    # last-sample times agree: the encoder's clock continues across calls
    assert chunked[-1].device_time_ns == whole[-1].device_time_ns


# ---------------------------------------------------------------------------- Myo


@FAST
@given(counts=int_counts(8, -128, 127, max_samples=60), sizes=st.data())
def test_myo_emg_roundtrip_rotation_and_pending(counts, sizes):
    enc = make_encoder(MYO, "emg")
    chunks = sizes.draw(chunk_sizes(len(counts)))
    notes = []
    i = 0
    for n in chunks:
        notes.extend(enc.encode(counts[i : i + n].astype(float)))
        i += n
    assert enc.pending == len(counts) % 2
    emg_chars = MYO.stream("emg").characteristics
    assert [u for u, _ in notes] == [emg_chars[k % 4] for k in range(len(notes))]
    assert all(len(b) == 16 for _, b in notes)
    frames = decode_all(MYO, notes)
    if frames:
        np.testing.assert_array_equal(stack(frames, "emg"), counts[: 2 * len(notes)])


@FAST
@given(
    raw=int_counts(10, -32768, 32767, max_samples=20),
)
def test_myo_imu_roundtrip(raw):
    q, a, g = raw[:, :4] / 16384.0, raw[:, 4:7] * 1000 / 2048.0, raw[:, 7:] / 16.0
    enc = make_encoder(MYO, "acc")
    notes = enc.encode_imu(q, a, g)
    frames = decode_all(MYO, notes)
    np.testing.assert_array_equal(stack(frames, "quat"), q)
    np.testing.assert_array_equal(stack(frames, "acc"), a)
    np.testing.assert_array_equal(stack(frames, "gyro"), g)
    # single-kind encode fills identity quaternion / zero gyro
    only_acc = decode_all(MYO, enc.encode(a))
    np.testing.assert_array_equal(stack(only_acc, "acc"), a)
    np.testing.assert_array_equal(stack(only_acc, "quat"), np.tile([1.0, 0, 0, 0], (len(a), 1)))


# ------------------------------------------------------------------------ Movesense


@FAST
@given(
    values=int_counts(3, -160_000, 160_000, max_samples=60),
    spf=st.integers(1, 30),
    max_bytes=st.sampled_from([None, 64, 100, 155]),
    t0_ms=st.integers(0, 2**32 - 10_000),
)
def test_movesense_roundtrip_with_split_messages(values, spf, max_bytes, t0_ms):
    mg = values / 10.0  # up to +-16 g
    kw = {"samples_per_frame": spf}
    if max_bytes is not None:
        if 6 + 12 * spf > 2 * max_bytes - 2:
            spf = (2 * max_bytes - 8) // 12
            kw["samples_per_frame"] = spf
        kw["max_notification_bytes"] = max_bytes
    enc = make_encoder(MOVESENSE, "acc", **kw)
    notes = enc.encode(mg, device_time_ns=t0_ms * 1_000_000)
    dec = make_decoder(MOVESENSE, MOVESENSE.stream("acc").characteristics[0])
    if max_bytes is not None:
        dec.max_notification_bytes = max_bytes
    frames = [f for _, b in notes for f in dec.decode(b)]
    got = stack(frames, "acc")
    np.testing.assert_allclose(got, mg, rtol=2e-7, atol=1e-9)
    period = 1e9 / 52
    starts = np.cumsum([0] + [f.n_samples for f in frames[:-1]])
    assert [f.device_time_ns for f in frames] == [
        ((t0_ms * 1_000_000 + round(s * period)) // 1_000_000 & 0xFFFFFFFF) * 1_000_000
        for s in starts
    ]
    assert all(f.first_sample_time for f in frames)


# ----------------------------------------------------------------------------- NUS


@FAST
@given(
    kind=st.sampled_from(["emg", "acc"]),
    data=st.data(),
    seq0=uint_wrapping(16),
    counter0=uint_wrapping(32),
    spf=st.integers(1, 255),
)
def test_nus_roundtrip_counters_wrap(kind, data, seq0, counter0, spf):
    s = NUS.stream(kind)
    counts = data.draw(int_counts(s.n_channels, -32768, 32767, max_samples=400))
    enc = make_encoder(NUS, kind, samples_per_frame=spf)
    notes = enc.encode(counts * s.scale, seq=seq0, sample_counter=counter0)
    frames = decode_all(NUS, notes)
    np.testing.assert_array_equal(stack(frames, kind), counts * s.scale)
    assert [f.seq for f in frames] == [(seq0 + i) & 0xFFFF for i in range(len(frames))]
    starts = counter0 + np.cumsum([0] + [f.n_samples for f in frames[:-1]])
    assert [f.sample_counter for f in frames] == list(starts)  # unwrapped past 2**32
    assert [f.device_time_ns for f in frames] == [
        round((c + f.n_samples - 1) * 1e9 / s.rate_hz) for c, f in zip(starts, frames)
    ]


@FAST
@given(counts=int_counts(2, -32768, 32767, max_samples=300), sizes=st.data())
def test_nus_chunked_encoding_equals_whole(counts, sizes):
    chunks = sizes.draw(chunk_sizes(len(counts)))
    whole = decode_all(NUS, make_encoder(NUS, "emg").encode(counts * 0.5))
    enc = make_encoder(NUS, "emg")
    parts = []
    i = 0
    for n in chunks:
        parts.extend(enc.encode(counts[i : i + n] * 0.5))
        i += n
    chunked = decode_all(NUS, parts)
    np.testing.assert_array_equal(stack(chunked, "emg"), stack(whole, "emg"))
    # sample counters stay contiguous across calls
    c = [f.sample_counter for f in chunked]
    n = [f.n_samples for f in chunked]
    assert all(c[i + 1] == c[i] + n[i] for i in range(len(c) - 1))


def test_encoders_saturate_like_an_adc():
    frames = decode_all(NUS, make_encoder(NUS, "acc").encode(np.array([[1e9, -1e9, 0.0]])))
    np.testing.assert_array_equal(frames[0].samples, [[32767 * 0.25, -32768 * 0.25, 0.0]])
    myo = decode_all(MYO, make_encoder(MYO, "emg").encode(np.full((2, 8), 500.0)))
    assert myo[0].samples.max() == 127


def test_encoder_rejects_wrong_shape_and_nan():
    enc = make_encoder(NUS, "emg")
    with pytest.raises(ValueError, match=r"\(n_samples, 2\)"):
        enc.encode(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="finite"):
        enc.encode(np.array([[np.nan, 0.0]]))
