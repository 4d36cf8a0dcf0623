"""unittest.mock in tests: autospec, patch, mocks shared between tests."""

from unittest import mock

from billing import service

# A notifier mock shared by the whole module: it records every call made to it.
NOTIFIER = mock.Mock()
DASHBOARD_PROBE = mock.MagicMock(name="probe")


def _invoice():
    return service.Invoice("acme", [("widget", 250), ("gadget", 1000)])


def test_settle_with_autospec_gateway():
    gateway = mock.create_autospec(service.Gateway, instance=True)
    gateway.charge.return_value = "ch_1"
    svc = service.InvoiceService(gateway, mock.Mock())
    assert svc.settle(_invoice()) == "ch_1"
    gateway.charge.assert_called_once_with("acme", 1250)


def test_settle_with_patch_object():
    with mock.patch.object(service.Gateway, "charge", return_value="ch_2") as charge:
        svc = service.InvoiceService(service.Gateway(), mock.Mock())
        assert svc.settle(_invoice()) == "ch_2"
    charge.assert_called_once()


def test_shared_notifier_records_calls():
    # eranpeer/FakeIt#76: a mock records every call, so a shared one grows per test.
    gateway = mock.Mock(charge=mock.Mock(return_value="ch_3"))
    svc = service.InvoiceService(gateway, NOTIFIER)
    assert svc.settle(_invoice()) == "ch_3"


def test_getsizeof_on_shared_magicmock():
    # python/cpython#106823: sys.getsizeof calls __sizeof__, which a MagicMock records.
    assert service.estimate_size([DASHBOARD_PROBE, "abc"]) > 0


def test_getsizeof_on_fresh_magicmock():
    assert service.estimate_size([mock.MagicMock(), "abc"]) > 0
