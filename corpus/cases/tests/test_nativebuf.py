"""C-extension-style reference leaks and buffers that grow in place."""

from nativebuf import buffers, refs


def test_missing_decref_on_payload():
    # numpy/numpy#26020: an 8 KiB bytes kept alive by a reference never released.
    assert len(refs.frame_payload(8192)) == 16


def test_balanced_incref_decref():
    # Clean twin of test_missing_decref_on_payload.
    assert len(refs.frame_payload_fixed(8192)) == 16


def test_missing_decref_on_result_list():
    # manodeep/Corrfunc#229: the result list is leaked on every call.
    results, elapsed = refs.build_results(20)
    assert results[3] == 9 and elapsed == 0.5


def test_result_list_released():
    results, elapsed = refs.build_results_fixed(20)
    assert results[3] == 9 and elapsed == 0.5


def test_missing_decref_on_callback_argument():
    # eclipse-ecal/ecal#1754: the message object handed to a callback is leaked.
    assert refs.deliver("telemetry") == "telemetry"


def test_receive_buffer_grows_by_realloc():
    # A module-level bytearray extended by 64 KiB per call: realloc, no new block.
    assert buffers.receive() % 65536 == 0


def test_receive_buffer_consumed():
    assert buffers.receive_and_consume() == 65536


def test_sample_array_grows_in_place():
    # An array('d') extended by 16 KiB per call.
    assert buffers.record_samples() % 2048 == 0


def test_large_chunks_kept():
    # rushter/selectolax#90: 256 KiB per call, served by the system allocator.
    assert buffers.keep_chunk() >= 1


def test_large_chunk_replaced():
    assert buffers.replace_chunk() == 256 * 1024


def test_ring_buffer_writes():
    assert buffers.write_ring(b"abc" * 100, 1000) == 300
