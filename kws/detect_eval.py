"""kws-detect-eval's entry point: kws.ship.detect_eval, with kws-synth's eSpeak words among the default
negatives (the ship folder does not import synth; this thin entry joins them)."""

from kws.ship.detect_eval import main as evaluate_detection
from kws.synth.negatives import spoken_words


def main(argv: list[str] | None = None) -> None:
    evaluate_detection(argv, speak_negatives=spoken_words)


if __name__ == "__main__":
    main()
