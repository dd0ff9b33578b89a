"""`kws-synth`: build the offline keyword data set described by configs/synth.yaml."""

from omegaconf import DictConfig, OmegaConf

from kws.commands.hydra_command import hydra_command
from kws.synth.dataset import build_dataset
from kws.synth.parameters import SynthConfig


@hydra_command("synth")
def main(cfg: DictConfig) -> None:
    build_dataset(
        cfg.data.root, SynthConfig.from_options(OmegaConf.to_container(cfg, resolve=True)), cfg.workers
    )


if __name__ == "__main__":
    main()
