"""Generate one synthetic CAN capture in the Car-Hacking CSV layout."""

from distillery.data.generate.can_bus import simulate_capture, write_capture
from distillery.workflow import run_script


def main(snakemake) -> None:
    capture = snakemake.params.capture
    rows = simulate_capture(capture.attack, capture.duration, n_bursts=capture.bursts,
                            seed=snakemake.params.seed, vehicle=capture.vehicle)
    write_capture(snakemake.output[0], rows)
    print(f"wrote {len(rows)} frames of vehicle {capture.vehicle} to {snakemake.output[0]}")


run_script(main, snakemake)
