"""Generate one synthetic CAN capture in the Car-Hacking CSV layout."""

from distillery.data.generate.can_bus import simulate_capture, write_capture
from distillery.workflow import run_script


def main(snakemake) -> None:
    generate = snakemake.params.generate
    options = {} if generate.duration is None else {"duration": generate.duration}
    rows = simulate_capture(snakemake.wildcards.capture, seed=snakemake.params.seed, **options)
    write_capture(snakemake.output[0], rows)
    print(f"wrote {len(rows)} frames to {snakemake.output[0]}")


run_script(main, snakemake)
