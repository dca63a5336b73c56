"""Generate one synthetic CAN capture in the Car-Hacking CSV layout."""

from distillery.data.generate.can_bus import simulate_capture, write_capture
from distillery.workflow import run_script


def main(snakemake) -> None:
    generate = snakemake.params.generate
    rows = simulate_capture(snakemake.wildcards.capture, generate.duration,
                            seed=snakemake.params.seed)
    write_capture(snakemake.output[0], rows)
    print(f"wrote {len(rows)} frames to {snakemake.output[0]}")


run_script(main, snakemake)
