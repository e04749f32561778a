"""A tiny randomly initialised Llama and a tokenizer trained in the test: never the real language model."""

from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CORPUS = [
    "Question: Where does Ada Brook live?\nAnswer: Lisbon",
    "Question: What is the job of Ada Brook?\nAnswer: baker",
    "Question: Which department does Ada Brook work in?\nAnswer: Finance",
    "Question: What is the capital of France?\nAnswer: Paris",
    "I don't know. Answer briefly. system user assistant",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,:;?!'-",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tokenizer(*, chat: bool = False) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE of a few hundred tokens on a small corpus, in memory."""
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>")
    if chat:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(tokenizer: PreTrainedTokenizerFast, *, seed: int = 0, layers: int = 2) -> LlamaForCausalLM:
    """A 2-layer Llama with a 64-wide residual stream, randomly initialised from ``seed``."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="session")
def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A plain tokenizer (no chat template)."""
    return build_tokenizer()


@pytest.fixture(scope="session")
def tiny_chat_tokenizer() -> PreTrainedTokenizerFast:
    """The same tokenizer with a minimal chat template."""
    return build_tokenizer(chat=True)


@pytest.fixture()
def tiny_lm(tiny_tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    """A fresh tiny random Llama for each test (tests may change its weights)."""
    return build_model(tiny_tokenizer)


class Builders:
    """The builders above, for tests that need a fresh model or tokenizer inside a module-scoped fixture."""

    tokenizer = staticmethod(build_tokenizer)
    model = staticmethod(build_model)


@pytest.fixture(scope="session")
def build() -> type[Builders]:
    """Access to :func:`build_tokenizer` and :func:`build_model` (test modules cannot import conftest)."""
    return Builders


# --- evaluation fixtures (lmeval): a target that learnt the forget people and an oracle that never saw them ---


@pytest.fixture(scope="session")
def lm_split():
    """The hand-made evaluation split (see ``lmeval_split.py``)."""
    from lmeval_split import make_split

    return make_split()


@pytest.fixture(scope="session")
def lm_pair(tiny_tokenizer, lm_split):
    """``(target, oracle)``: tiny Llamas trained on everything, and on everything but the forget people."""
    from lmeval_split import memorise, training_pairs

    torch.set_num_threads(1)
    target = memorise(build_model(tiny_tokenizer), tiny_tokenizer, training_pairs(lm_split, forget=True))
    oracle = memorise(build_model(tiny_tokenizer), tiny_tokenizer, training_pairs(lm_split, forget=False))
    return target, oracle


@pytest.fixture(scope="session")
def lm_evaluations(tiny_tokenizer, lm_split, lm_pair):
    """``(target evaluation vs the oracle, oracle evaluation)``, probes off."""
    from expunge.lm._evaluate import evaluate_split

    target, oracle = lm_pair
    # the tiny tokenizer spells a sentence in ~25 tokens, and the models learnt sentences as well as short answers
    oracle_eval = evaluate_split(oracle, tiny_tokenizer, lm_split, probes=(), bootstrap=50, max_new_tokens=32)
    target_eval = evaluate_split(
        target,
        tiny_tokenizer,
        lm_split,
        oracle=oracle_eval,
        reference=oracle,
        probes=(),
        bootstrap=50,
        max_new_tokens=32,
    )
    return target_eval, oracle_eval
