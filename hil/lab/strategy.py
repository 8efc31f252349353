"""BoardStrategy: labgrid's ShellStrategy states (off, shell) with boot waits sized for an
emulated board: systemd's start-up is polled for up to `boot_timeout` seconds instead of one
30-second `systemctl is-system-running --wait`."""
import enum
import time

import attr
from labgrid.factory import target_factory
from labgrid.step import step
from labgrid.strategy.common import Strategy, StrategyError, never_retry


class Status(enum.Enum):
    unknown = 0
    off = 1
    shell = 2


@target_factory.reg_driver
@attr.s(eq=False)
class BoardStrategy(Strategy):
    bindings = {
        "power": "PowerProtocol",
        "console": "ConsoleProtocol",
        "shell": "ShellDriver",
    }
    status = attr.ib(default=Status.unknown)
    boot_timeout = attr.ib(default=900, validator=attr.validators.instance_of(int))
    #: Host time of the last power-on, for boot-time measurements.
    powered_on_at = attr.ib(default=None)

    @never_retry
    @step(args=["status"])
    def transition(self, status, *, step):  # pylint: disable=redefined-outer-name
        if not isinstance(status, Status):
            status = Status[status]
        if status == Status.unknown:
            raise StrategyError(f"can not transition to {status}")
        if status == self.status:
            step.skip("nothing to do")
            return
        if status == Status.off:
            self.target.deactivate(self.shell)
            self.target.deactivate(self.console)
            self.target.activate(self.power)
            self.power.off()
        elif status == Status.shell:
            self.transition(Status.off)
            self.target.activate(self.console)
            self.power.on()
            self.powered_on_at = time.time()
            self.target.activate(self.shell)
            self._await_startup()
        self.status = status

    def _await_startup(self):
        deadline = time.monotonic() + self.boot_timeout
        state = "?"
        while time.monotonic() < deadline:
            out, _, _ = self.shell.run("systemctl is-system-running", timeout=60)
            state = out[-1].strip() if out else "?"
            if state in ("running", "degraded"):
                return
            time.sleep(3)
        raise StrategyError(f"systemd start-up did not finish in {self.boot_timeout} s ({state})")
