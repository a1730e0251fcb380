"""The paper this project implements, for cards and dataset infos."""

CITATION = """@inproceedings{riaz2025metasynth,
  title     = {MetaSynth: Meta-Prompting-Driven Agentic Scaffolds for Diverse Synthetic Data Generation},
  author    = {Riaz, Haris and Bhabesh, Sourav and Arannil, Vinayak and Ballesteros, Miguel and Horwood, Graham},
  booktitle = {Findings of the Association for Computational Linguistics: ACL 2025},
  year      = {2025},
  eprint    = {2504.12563},
  archivePrefix = {arXiv}
}"""

ARXIV_URL = "https://arxiv.org/abs/2504.12563"
