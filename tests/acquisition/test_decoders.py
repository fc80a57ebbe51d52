"""Decoders against every worked frame of ble-protocols.md and docs/nus-reference-protocol.md,
plus malformed frames (each must raise DecodeError with the right reason)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from spasmwatch.acquisition._codecs import make_decoder, make_decoders, make_encoder
from spasmwatch.acquisition._movesense import MovesenseGspDecoder, gsp_subscribe
from spasmwatch.acquisition._myo import MyoEmgDecoder, MyoImuDecoder
from spasmwatch.acquisition._nus import NusReferenceDecoder, parse_nus_command
from spasmwatch.acquisition._polar import (
    PmdCpResponse,
    PolarControlPointDecoder,
    PolarPmdDecoder,
    build_pmd_cp_response,
    decode_delta_payload,
    encode_delta_payload,
    parse_pmd_cp_request,
    parse_pmd_cp_response,
    pmd_settings_bytes,
)
from spasmwatch.acquisition._profiles import get_profile
from spasmwatch.errors import DecodeError

PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
PMD_CP = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
MYO_EMG0 = "d5060105-a904-deb9-4748-2c7f4a124842"
MYO_IMU = "d5060402-a904-deb9-4748-2c7f4a124842"
GSP_DATA = "34800002-7185-4d5d-b431-630e7050e8f0"
NUS_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"


def hx(s: str) -> bytes:
    return bytes.fromhex(s.replace("|", " "))


@pytest.fixture(scope="module")
def h10():
    return get_profile("polar-h10")


@pytest.fixture(scope="module")
def verity():
    return get_profile("polar-verity-sense")


@pytest.fixture(scope="module")
def myo():
    return get_profile("myo")


@pytest.fixture(scope="module")
def movesense():
    return get_profile("movesense")


@pytest.fixture(scope="module")
def nus():
    return get_profile("nus-reference")


def only(frames):
    assert len(frames) == 1
    return frames[0]


# ---------------------------------------------------------------------------- Polar §1.8


def test_polar_a_raw_int16_h10(h10):
    f = only(
        make_decoder(h10, PMD_DATA).decode(
            hx("02 EA 54 A2 42 8B 45 52 08 01 45 FF E4 FF B5 03 45 FF E4 FF B8 03")
        )
    )
    assert f.kind == "acc"
    assert f.device_time_ns == 599_618_164_814_402_794
    assert not f.first_sample_time
    np.testing.assert_array_equal(f.samples, [[-187, -28, 949], [-187, -28, 952]])


def test_polar_b_raw_type1_first_two_samples(h10):
    f = only(
        PolarPmdDecoder(h10).decode(
            hx("02 00 94 35 77 00 00 00 00 01 | F7 FF FF FF E7 03 F8 FF FE FF E5 03")
        )
    )
    assert f.device_time_ns == 2_000_000_000
    np.testing.assert_array_equal(f.samples, [[-9, -1, 999], [-8, -2, 997]])


def test_polar_c_delta_0x81(h10):
    f = only(
        PolarPmdDecoder(h10).decode(
            hx("02 65 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B 0F 08")
        )
    )
    assert f.device_time_ns == 101
    np.testing.assert_array_equal(f.samples, [[-15, 20, 1008], [-20, 17, 1008]])


def test_polar_d_delta_0x80_verity_prefix(verity):
    """§1.8 (d): the 210 delta bytes are not all published; the first 6 are
    ``BE 5C BE BA 2F 96`` and samples 1-2 are given. Our encoder must reproduce those 6
    bytes from the documented samples, and the decoder must give the documented counts
    and mG values (PSDK truncates to int mG; we keep the float)."""
    counts = np.array([[1905, 27376, -29282], [2095, 27271, -29367], [2285, 27165, -29451]])
    payload = encode_delta_payload(counts, 16, bit_width=10)
    assert payload[:6] == hx("71 07 F0 6A 9E 8D")
    assert payload[6:8] == hx("0A 02")
    assert payload[8:14] == hx("BE 5C BE BA 2F 96")
    frame = hx("02 00 94 35 77 00 00 00 00 80") + payload
    dec = make_decoders(verity)[PMD_DATA]
    f = only(dec.decode(frame))
    factor = struct.unpack("<f", hx("40 DA 7F 39"))[0]
    dec.set_factor("acc", factor)
    f = only(dec.decode(frame))
    np.testing.assert_allclose(f.samples / (factor * 1000), counts, atol=1e-6)
    np.testing.assert_array_equal(np.trunc(f.samples[0]), [464, 6679, -7144])
    np.testing.assert_array_equal(np.trunc(f.samples[1]), [511, 6654, -7165])


def test_polar_d_full_block_is_truncated_without_its_210_bytes(verity):
    frame = hx("02 00 94 35 77 00 00 00 00 80 | 71 07 F0 6A 9E 8D | 0A 38 | BE 5C BE BA 2F 96")
    with pytest.raises(DecodeError) as e:
        PolarPmdDecoder(verity).decode(frame)
    assert e.value.reason == "truncated"
    assert "210 delta bytes" in str(e.value)


def test_polar_e_delta_pspec_prefix(verity):
    head = hx("02 64 6C 76 C4 3C C6 7F 07 80 D0 FF 65 01 E4 0F")
    # the published frame declares K=29; we keep the 2 published delta samples (K=2)
    frame = head + hx("08 02 FC 07 FF 0C 13 F2")
    dec = PolarPmdDecoder(verity, factors={"acc": 1e-3})  # x 1e-3 x 1000 = raw counts
    f = only(dec.decode(frame))
    assert f.device_time_ns == 540_368_444_604_181_604
    np.testing.assert_allclose(f.samples, [[-48, 357, 4068], [-52, 364, 4067], [-40, 383, 4053]])
    with pytest.raises(DecodeError) as e:
        dec.decode(head + hx("08 1D FC 07 FF 0C 13 F2"))
    assert e.value.reason == "truncated"


def test_polar_f_ecg(h10):
    f = only(PolarPmdDecoder(h10).decode(hx("00 00 94 35 77 00 00 00 00 00 02 80 FF 02 80 00")))
    assert f.kind == "ecg"
    assert f.device_time_ns == 2_000_000_000
    np.testing.assert_array_equal(f.samples, [[-32766], [32770]])


# --------------------------------------------------------------------- Polar CP §1.5


def test_cp_h10_get_acc_settings():
    r = parse_pmd_cp_response(
        hx("F0 01 02 00 00 00 04 19 00 32 00 64 00 C8 00 01 01 10 00 02 03 02 00 04 00 08 00")
    )
    assert (r.op, r.type, r.status, r.more, r.ok) == (1, 2, 0, False, True)
    assert r.measurement == "acc"
    assert r.settings == {
        "sample_rate": (25, 50, 100, 200),
        "resolution": (16,),
        "range": (2, 4, 8),
    }


def test_cp_h10_get_ecg_settings():
    r = parse_pmd_cp_response(hx("F0 01 00 00 00 00 01 82 00 01 01 0E 00"))
    assert r.settings == {"sample_rate": (130,), "resolution": (14,)}


def test_cp_verity_get_acc_settings():
    r = parse_pmd_cp_response(hx("F0 01 02 00 00 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03"))
    assert r.settings == {
        "sample_rate": (52,),
        "resolution": (16,),
        "range": (8,),
        "channels": (3,),
    }


def test_cp_start_responses():
    h10 = parse_pmd_cp_response(hx("F0 02 02 00 00 01"))
    assert h10.ok and h10.op == 2 and h10.settings == {} and h10.factor is None
    v = parse_pmd_cp_response(hx("F0 02 02 00 00 05 01 40 DA 7F 39"))
    assert v.factor == pytest.approx(2.44e-4, rel=1e-6)
    assert parse_pmd_cp_response(hx("F0 02 02 00 00")).settings == {}
    stop = parse_pmd_cp_response(hx("F0 03 02 00 00"))
    assert stop.op == 3 and stop.ok


def test_cp_error_response():
    r = parse_pmd_cp_response(hx("F0 01 06 07 00"))
    assert not r.ok
    assert r.status_name == "INVALID_RESOLUTION"
    assert r.measurement == "mag"
    assert r.settings == {}


def test_cp_builder_matches_verity_start_response():
    b = build_pmd_cp_response(2, 2, params=pmd_settings_bytes({"factor": 2.44e-4}))
    assert b == hx("F0 02 02 00 00 05 01 40 DA 7F 39")
    assert build_pmd_cp_response(3, 2) == hx("F0 03 02 00 00")


def test_cp_request_parsing_of_profile_commands(h10):
    start_acc, start_ecg = (c.data for c in h10.start_commands)
    r = parse_pmd_cp_request(start_acc)
    assert (r.op, r.type) == (2, 2)
    assert r.settings == {"sample_rate": (200,), "resolution": (16,), "range": (8,)}
    assert parse_pmd_cp_request(start_ecg).settings == {"sample_rate": (130,), "resolution": (14,)}
    assert parse_pmd_cp_request(hx("03 02")).op == 3


def test_cp_decoder_learns_factor_and_multipart(verity):
    decs = make_decoders(verity)
    cp, data = decs[PMD_CP], decs[PMD_DATA]
    assert isinstance(cp, PolarControlPointDecoder) and isinstance(data, PolarPmdDecoder)
    assert cp.decode(hx("F0 02 02 00 00 05 01 00 00 80 3F")) == []  # FACTOR 1.0
    assert data.factor("acc") == 1.0
    # two-part response: 'more' set on the first indication
    assert cp.decode(hx("F0 01 02 00 01 00 02 19 00")) == []
    assert cp.decode(hx("F0 01 02 00 00 32 00")) == []
    last = cp.responses[-1]
    assert isinstance(last, PmdCpResponse)
    assert last.settings == {"sample_rate": (25, 50)}
    assert cp.decode(hx("01 02")) == [] and list(cp.stopped_types) == [2]


# ------------------------------------------------------------------------- Myo §2.3/2.4


def test_myo_emg_vectors(myo):
    dec = make_decoder(myo, MYO_EMG0)
    assert isinstance(dec, MyoEmgDecoder)
    f = only(dec.decode(hx("09 0d 01 fe fe fe fa 02 06 e9 fc fd fc fe 05 02")))
    assert f.kind == "emg" and f.device_time_ns is None
    np.testing.assert_array_equal(
        f.samples, [[9, 13, 1, -2, -2, -2, -6, 2], [6, -23, -4, -3, -4, -2, 5, 2]]
    )
    f = only(dec.decode(hx("fe0200ff0000ff0304110000fefe0304")))
    np.testing.assert_array_equal(
        f.samples, [[-2, 2, 0, -1, 0, 0, -1, 3], [4, 17, 0, 0, -2, -2, 3, 4]]
    )


def test_myo_imu_vector(myo):
    dec = make_decoder(myo, MYO_IMU)
    assert isinstance(dec, MyoImuDecoder)
    frames = {f.kind: f for f in dec.decode(hx("3e2eab2be5f824004e01bd0757000300f5fffcff"))}
    assert set(frames) == {"quat", "acc", "gyro"}
    np.testing.assert_allclose(
        frames["quat"].samples, [[0.72253, 0.68231, -0.11102, 0.00220]], atol=5e-6
    )
    # g -> mG: 0.16309 g = 163.0859375 mG exactly (334 / 2048 * 1000)
    np.testing.assert_allclose(frames["acc"].samples, [[163.0859375, 967.28515625, 42.48046875]])
    np.testing.assert_allclose(
        frames["acc"].samples / 1000, [[0.16309, 0.96729, 0.04248]], atol=5e-6
    )
    np.testing.assert_array_equal(frames["gyro"].samples, [[0.1875, -0.6875, -0.25]])


# ----------------------------------------------------------------------- Movesense §3.3


def test_movesense_synthetic_acc(movesense):
    assert movesense.start_commands[0].data == gsp_subscribe(99, "/Meas/Acc/52")
    assert movesense.start_commands[0].data == hx("01 63 2F 4D 65 61 73 2F 41 63 63 2F 35 32")
    dec = make_decoder(movesense, GSP_DATA)
    f = only(
        dec.decode(
            hx(
                "02 63 40 E2 01 00 CD CC CC 3D CD CC 4C 3E C3 F5 1C 41 "
                "9A 99 19 3E 00 00 80 3E CD CC 1C 41"
            )
        )
    )
    assert f.kind == "acc"
    assert f.device_time_ns == 123_456 * 1_000_000 and f.first_sample_time
    ms2 = f.samples / (1000 / 9.80665)
    np.testing.assert_allclose(ms2, [[0.1, 0.2, 9.81], [0.15, 0.25, 9.80]], rtol=1e-6)
    np.testing.assert_allclose(f.samples[0, 2], 9.81 / 9.80665 * 1000, rtol=1e-6)


def test_movesense_command_result_has_no_samples(movesense):
    dec = MovesenseGspDecoder(movesense)
    assert dec.decode(hx("01 63 01 FB")) == []
    assert dec.command_results == [(0x63, 0xFB01)]


# ------------------------------------------------------------------ NUS reference (docs)


def test_nus_doc_emg_example(nus):
    dec = make_decoder(nus, NUS_TX)
    f = only(dec.decode(hx("A1 01 02 01 E8 03 00 00 02 | 64 00 9C FF D0 07 30 F8")))
    assert (f.kind, f.seq, f.sample_counter) == ("emg", 258, 1000)
    assert f.device_time_ns == 1_001_000_000
    np.testing.assert_array_equal(f.samples, [[50.0, -50.0], [1000.0, -1000.0]])


def test_nus_doc_acc_example_and_wrap(nus):
    dec = NusReferenceDecoder(nus)
    f = only(dec.decode(hx("A1 02 07 00 FE FF FF FF 01 | 00 00 00 00 A0 0F")))
    assert (f.kind, f.seq, f.sample_counter) == ("acc", 7, 0xFFFFFFFE)
    np.testing.assert_array_equal(f.samples, [[0.0, 0.0, 1000.0]])
    # next frame after the uint32 wrap: counter unwrapped to 2**32 + 1
    g = only(dec.decode(hx("A1 02 08 00 01 00 00 00 01 | 00 00 00 00 A0 0F")))
    assert g.sample_counter == 2**32 + 1 and g.seq == 8
    dec.reset()
    assert only(dec.decode(hx("A1 02 08 00 01 00 00 00 01 00 00 00 00 A0 0F"))).sample_counter == 1


def test_nus_doc_response_and_commands(nus):
    dec = NusReferenceDecoder(nus)
    assert dec.decode(hx("A1 F0 01 00")) == [] and dec.responses == [(1, 0)]
    assert [c.data for c in nus.start_commands] == [hx("01 03")]
    assert [c.data for c in nus.stop_commands] == [hx("02 03")]
    assert parse_nus_command(hx("01 03")) == (1, 3)


# ----------------------------------------------------------------------- malformed frames


def _reason(dec, frame: bytes) -> str:
    with pytest.raises(DecodeError) as e:
        dec.decode(frame)
    msg = str(e.value)
    assert "expected" in msg and "got" in msg
    return e.value.reason


def test_polar_raw_truncated_everywhere_but_sample_boundaries(h10):
    frame = hx("02 EA 54 A2 42 8B 45 52 08 01 45 FF E4 FF B5 03 45 FF E4 FF B8 03")
    dec = PolarPmdDecoder(h10)
    for i in range(len(frame)):
        if i > 10 and (i - 10) % 6 == 0:
            assert len(only(dec.decode(frame[:i])).samples) == (i - 10) // 6
            continue
        assert _reason(dec, frame[:i]) == "truncated", i


def test_polar_delta_truncated_everywhere_but_block_boundaries(h10):
    frame = hx("02 65 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B 0F 08")
    dec = PolarPmdDecoder(h10)
    for i in range(len(frame)):
        if i == 16:  # reference sample alone is a valid 1-sample frame
            assert len(only(dec.decode(frame[:i])).samples) == 1
            continue
        assert _reason(dec, frame[:i]) == "truncated", i


def test_polar_ecg_truncated(h10):
    frame = hx("00 00 94 35 77 00 00 00 00 00 02 80 FF 02 80 00")
    dec = PolarPmdDecoder(h10)
    for i in (0, 5, 9, 10, 11, 12, 14, 15):
        assert _reason(dec, frame[:i]) == "truncated"


def test_polar_unknown_types(h10):
    dec = PolarPmdDecoder(h10)
    assert _reason(dec, hx("07 00 00 00 00 00 00 00 00 00 01 02 03")) == "unknown_type"
    assert _reason(dec, hx("02 00 00 00 00 00 00 00 00 05 01 02 03")) == "unknown_type"
    assert _reason(dec, hx("00 00 00 00 00 00 00 00 00 01 01 02 03")) == "unknown_type"
    assert _reason(dec, hx("00 00 00 00 00 00 00 00 00 80 01 02 03")) == "unknown_type"


@pytest.mark.parametrize("width", [0, 33, 64, 255])
def test_polar_impossible_bit_width(h10, width):
    frame = hx("02 65 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03") + bytes([width, 1]) + bytes(16)
    assert _reason(PolarPmdDecoder(h10), frame) == "bad_bit_width"
    with pytest.raises(DecodeError):
        decode_delta_payload(frame[10:], 3, 16)


def test_polar_zero_sample_block(h10):
    frame = hx("02 65 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 00")
    assert _reason(PolarPmdDecoder(h10), frame) == "bad_block"


def test_cp_malformed():
    for b, reason in [
        (hx("F0 01 02"), "truncated"),
        (hx("01 02"), "unknown_type"),
        (hx("F0 01 02 00 00 00 04 19 00"), "truncated"),
        (hx("F0 01 02 00 00 09 01 00"), "bad_setting"),
    ]:
        with pytest.raises(DecodeError) as e:
            parse_pmd_cp_response(b)
        assert e.value.reason == reason


def test_myo_malformed(myo):
    emg = MyoEmgDecoder(myo, MYO_EMG0)
    frame = hx("09 0d 01 fe fe fe fa 02 06 e9 fc fd fc fe 05 02")
    for i in range(len(frame)):
        assert _reason(emg, frame[:i]) == "truncated"
    assert _reason(emg, frame + b"\0") == "bad_length"
    imu = MyoImuDecoder(myo, MYO_IMU)
    frame = hx("3e2eab2be5f824004e01bd0757000300f5fffcff")
    for i in range(len(frame)):
        assert _reason(imu, frame[:i]) == "truncated"
    assert _reason(imu, frame + b"\0") == "bad_length"
    with pytest.raises(DecodeError, match=r"myo emg0 \(d5060105"):
        emg.decode(b"\1")


def test_movesense_malformed(movesense):
    dec = MovesenseGspDecoder(movesense, GSP_DATA)
    frame = hx(
        "02 63 40 E2 01 00 CD CC CC 3D CD CC 4C 3E C3 F5 1C 41 9A 99 19 3E 00 00 80 3E CD CC 1C 41"
    )
    for i in range(len(frame)):
        if i == 18:  # one whole sample
            assert len(only(dec.decode(frame[:i])).samples) == 1
            continue
        assert _reason(dec, frame[:i]) == "truncated", i
    assert _reason(dec, hx("09 63 00 00")) == "unknown_type"
    assert _reason(dec, hx("02 05") + frame[2:]) == "unknown_reference"
    assert _reason(dec, hx("03 63 00 00 80 3F")) == "orphan_part"


def test_movesense_part2_reassembly_and_dropped_part(movesense):
    enc = make_encoder(movesense, "acc", max_notification_bytes=40, samples_per_frame=5)
    x = np.arange(15.0).reshape(5, 3) * 100
    notes = enc.encode(x, device_time_ns=5_000_000)
    assert [n[1][0] for n in notes] == [2, 3]
    dec = MovesenseGspDecoder(movesense, max_notification_bytes=40)
    assert dec.decode(notes[0][1]) == []
    f = only(dec.decode(notes[1][1]))
    np.testing.assert_allclose(f.samples, x, rtol=1e-6)
    assert f.device_time_ns == 5_000_000
    # a part 1 not followed by its part 2: dropped (counted), the next DATA still decodes
    small = make_encoder(movesense, "acc", max_notification_bytes=40, samples_per_frame=2)
    assert dec.decode(notes[0][1]) == []
    f = only(dec.decode(small.encode(x[:2])[0][1]))
    assert dec.dropped_parts == 1 and len(f.samples) == 2


def test_nus_malformed(nus):
    dec = NusReferenceDecoder(nus, NUS_TX)
    frame = hx("A1 01 02 01 E8 03 00 00 02 64 00 9C FF D0 07 30 F8")
    for i in range(len(frame)):
        assert _reason(dec, frame[:i]) == "truncated", i
    assert _reason(dec, frame + b"\0") == "bad_length"
    assert _reason(dec, hx("B1") + frame[1:]) == "bad_magic"
    assert _reason(dec, hx("A2") + frame[1:]) == "unsupported_version"
    assert _reason(dec, hx("A1 09") + frame[2:]) == "unknown_type"
    assert _reason(dec, hx("A1 01 02 01 E8 03 00 00 00")) == "bad_length"
    assert _reason(dec, hx("A1 F0 01")) == "truncated"
    with pytest.raises(DecodeError) as e:
        parse_nus_command(hx("07 01"))
    assert e.value.reason == "unknown_type"
