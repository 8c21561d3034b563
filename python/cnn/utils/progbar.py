"""Keras-style progress bar: `12/12 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - loss: 0.3012`.

verbose=1 redraws one line in place (backspaces + carriage return); verbose=2 prints only
the final line of each bar. Values named in `stateful_metrics` (or all but those named in
`stateless_metrics`) are shown as given, e.g. the running means the training loop passes;
others are averaged over the steps seen."""
import math
import sys
import time


def _format_value(v):
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


def _format_time_per_unit(seconds, unit):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def _format_eta(eta):
    if eta > 3600:
        return "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
    if eta > 60:
        return "%d:%02d" % (eta // 60, eta % 60)
    return "%ds" % eta


class Progbar:
    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step", stream=None):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Pass only one of `stateful_metrics` and `stateless_metrics`.")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        # Either the named metrics are shown as given, or all but the named ones are.
        self.stateful_metrics = set(stateful_metrics or ())
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self._stream = stream
        self._sums = {}  # name -> [weighted sum, weight] or [value, 1] for stateful ones
        self._order = []
        self._seen = 0
        self._start = time.time()
        self._last_draw = 0.0
        self._after_first_step = None
        self._prev_width = 0

    @property
    def stream(self):
        return self._stream or sys.stdout

    def _record(self, current, values, finalize):
        for name, value in values or ():
            value = float(value)
            if name not in self._order:
                self._order.append(name)
            if self._shown_as_given(name) or finalize:
                self._sums[name] = [value, 1]
            else:
                steps = max(current - self._seen, 1)
                acc = self._sums.setdefault(name, [0.0, 0])
                acc[0] += value * steps
                acc[1] += steps
        self._seen = current

    def _shown_as_given(self, name):
        if self.stateless_metrics is not None:
            return name not in self.stateless_metrics
        return name in self.stateful_metrics

    def _step_time(self, current, now):
        # The first step usually includes one-off setup, so later estimates skip it.
        if not current:
            return 0.0
        if self._after_first_step is not None and current > 1:
            per = (now - self._after_first_step) / (current - 1)
        else:
            per = (now - self._start) / current
        if current == 1:
            self._after_first_step = now
        return per

    def _metrics_text(self):
        parts = []
        for name in self._order:
            total, count = self._sums[name]
            parts.append(f" - {name}: {_format_value(total / max(1, count))}")
        return "".join(parts)

    def update(self, current, values=None, finalize=None):
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._record(current, values, finalize)
        now = time.time()
        per_step = self._step_time(current, now)
        if self.verbose == 1:
            if now - self._last_draw < self.interval and not finalize:
                return
            self._draw_line(current, now, per_step, finalize)
        elif self.verbose == 2 and finalize and self.target:
            digits = int(math.log10(self.target)) + 1
            line = (f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s - "
                    f"{_format_time_per_unit(per_step, self.unit_name)}{self._metrics_text()}\n")
            self.stream.write(line)
            self.stream.flush()
        self._last_draw = now

    def _draw_line(self, current, now, per_step, finalize):
        out = "\b" * self._prev_width + "\r"
        visible = 0  # printed width without the ANSI escapes
        if self.target:
            digits = int(math.log10(self.target)) + 1
            count = f"{current:{digits}d}/{self.target}"
            done = int(self.width * current / self.target)
            out += f"\x1b[1m{count}\x1b[0m "
            if done > 0:
                out += f"\x1b[32m{'━' * done}\x1b[0m"
            out += f"\x1b[37m{'━' * (self.width - done)}\x1b[0m"
            visible += len(count) + 1 + self.width
        else:
            count = "%7d/Unknown" % current
            out += count
            visible += len(count)
        if self.target and not finalize:
            clock = _format_eta(per_step * (self.target - current))
        else:
            clock = f"{now - self._start:.0f}s"
        info = f" {_format_time_per_unit(per_step, self.unit_name)}{self._metrics_text()}"
        out += f" \x1b[1m{clock}\x1b[0m{info}"
        visible += 1 + len(clock) + len(info)
        if self._prev_width > visible:
            out += " " * (self._prev_width - visible)
        if finalize:
            out += "\n"
        self.stream.write(out)
        self.stream.flush()
        self._prev_width = visible

    def add(self, n, values=None):
        self.update(self._seen + n, values)
