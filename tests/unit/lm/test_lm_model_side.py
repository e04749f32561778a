"""Loading, the people benchmark, adapters and their manifests, the cache and resume, generation."""

from __future__ import annotations

import dataclasses
import json
import warnings

import pytest
import torch

from expunge.errors import (
    AdapterMismatchError,
    InvalidParameterError,
    ModelFilesMissingError,
    NotCausalLMError,
)
from expunge.lm import (
    PlainPromptWarning,
    TrainingRecipe,
    adapter_sha256,
    finetune_adapter,
    generate_answers,
    load_adapter,
    load_causal_lm,
    make_people_benchmark,
    save_adapter,
)
from expunge.lm._finetune import train_adapter, training_key

torch.set_num_threads(1)  # the lm tests are timed at one thread (2 shared cores)

RECIPE = TrainingRecipe(rank=2, alpha=4.0, epochs=2, lr=1e-2, batch_size=8)


def test_benchmark_is_seeded_sized_and_its_groups_disjoint():
    bench = make_people_benchmark(seed=3)
    again = make_people_benchmark(seed=3)
    assert bench.split("forget05") == again.split("forget05")
    assert make_people_benchmark(seed=4).split("forget05").forget != bench.split("forget05").forget
    f01, f05, f10 = (bench.split(n) for n in ("forget01", "forget05", "forget10"))
    assert len(f05.forget) >= 100 and len(f05.forget_people) == 10 and len(f01.forget_people) == 2
    assert set(f01.forget_people) < set(f05.forget_people) < set(f10.forget_people)  # nested, as TOFU's
    groups = [
        set(f10.forget_people),
        {q.person_id for q in f10.validation_forget},
        {q.person_id for q in f10.holdout},
        {q.person_id for q in f10.reference},
    ]
    for i, a in enumerate(groups):
        for b in groups[i + 1 :]:
            assert not a & b
    assert set(f05.train) == set(f10.train)  # one target adapter serves every split
    assert not {q.person_id for q in f05.oracle_train} & set(f05.forget_people)
    for qa in f05.forget:
        assert len(qa.perturbed_answers) == 3 and qa.answer not in qa.perturbed_answers
        assert qa.paraphrased_question != qa.question
        assert all(
            p.split()[1:] != qa.paraphrased_answer.split()[1:] or p != qa.paraphrased_answer
            for p in qa.perturbed_answers
        )
    by_id = {q.sample_id: q for q in f05.forget}
    assert len(f05.canaries) == 10 and all(by_id[sid].answer == code for sid, code in f05.canaries.items())
    assert sum(q.attribute == "canary" for q in f05.retain) == 10  # forget10's other people keep theirs
    with pytest.raises(InvalidParameterError, match="The split must be one of"):
        bench.split("forget50")
    with pytest.raises(InvalidParameterError, match="'people' parameter of the people benchmark must be an int"):
        make_people_benchmark(5)


def test_load_causal_lm_from_a_folder_and_its_refusals(tmp_path, tiny_lm, tiny_tokenizer):
    tiny_lm.save_pretrained(str(tmp_path / "m"))
    tiny_tokenizer.save_pretrained(str(tmp_path / "m"))
    with pytest.warns(PlainPromptWarning, match="has no chat template"):
        lm = load_causal_lm(tmp_path / "m")
    assert lm.model_id == "m" and next(lm.model.parameters()).dtype == torch.float32
    assert lm.sha256 == load_causal_lm_quiet(tmp_path / "m").sha256
    with pytest.raises(ModelFilesMissingError, match="does not exist"):
        load_causal_lm(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFilesMissingError, match="has no config.json"):
        load_causal_lm(tmp_path / "empty")
    (tmp_path / "vit").mkdir()
    (tmp_path / "vit" / "config.json").write_text(json.dumps({"model_type": "vit"}))
    with pytest.raises(NotCausalLMError, match="'vit' model, which is not a causal language model"):
        load_causal_lm(tmp_path / "vit")
    (tmp_path / "noweights").mkdir()
    (tmp_path / "noweights" / "config.json").write_text((tmp_path / "m" / "config.json").read_text())
    with pytest.raises(ModelFilesMissingError, match="no loadable weights"):
        load_causal_lm(tmp_path / "noweights")


def load_causal_lm_quiet(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlainPromptWarning)
        return load_causal_lm(path)


def _samples():
    return make_people_benchmark(20, questions_per_attribute=1, attributes=1).split("forget10").train


def test_adapter_round_trip_refuses_another_base_and_altered_weights(tmp_path, build, tiny_tokenizer):
    trained = finetune_adapter(build.model(tiny_tokenizer), tiny_tokenizer, _samples(), RECIPE, adapter_id="hr")
    folder = save_adapter(trained.model, trained.manifest, tmp_path / "a")
    loaded, manifest = load_adapter(build.model(tiny_tokenizer), folder)
    assert manifest == trained.manifest and adapter_sha256(loaded) == manifest.weights_sha256
    with pytest.raises(AdapterMismatchError, match="was trained on base weights .* not on these"):
        load_adapter(build.model(tiny_tokenizer, seed=1), folder)
    doc = json.loads((folder / "manifest.json").read_text())
    doc["weights_sha256"] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(AdapterMismatchError, match="the adapter was altered"):
        load_adapter(build.model(tiny_tokenizer), folder)
    with pytest.raises(ModelFilesMissingError, match="has no manifest.json"):
        load_adapter(build.model(tiny_tokenizer), tmp_path)
    with pytest.raises(AdapterMismatchError, match="build the manifest from the weights being saved"):
        save_adapter(trained.model, dataclasses.replace(manifest, weights_sha256="1" * 64), tmp_path / "b")


def test_cache_hit_and_resume_give_the_same_weights(tmp_path, build, tiny_tokenizer):
    samples = _samples()
    first = finetune_adapter(build.model(tiny_tokenizer), tiny_tokenizer, samples, RECIPE, cache_dir=tmp_path)
    again = finetune_adapter(
        build.model(tiny_tokenizer), tiny_tokenizer, list(reversed(samples)), RECIPE, cache_dir=tmp_path
    )
    assert again.cached and not first.cached
    assert again.manifest.weights_sha256 == first.manifest.weights_sha256
    assert training_key("a", RECIPE, samples) == training_key("a", RECIPE, list(reversed(samples)))
    assert training_key("a", RECIPE, samples) != training_key("b", RECIPE, samples)


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, build, tiny_tokenizer, monkeypatch):
    from expunge.lm import attach_adapter

    samples = _samples()
    whole = attach_adapter(build.model(tiny_tokenizer), RECIPE)
    train_adapter(whole, tiny_tokenizer, samples, RECIPE)
    saves, real_save = [], torch.save

    def crash_on_second_checkpoint(obj, path):
        saves.append(path)
        if len(saves) == 2:
            raise KeyboardInterrupt  # the process dies while writing the second epoch's checkpoint
        real_save(obj, path)

    monkeypatch.setattr(torch, "save", crash_on_second_checkpoint)
    ckpt = tmp_path / "ck"
    with pytest.raises(KeyboardInterrupt):
        train_adapter(
            attach_adapter(build.model(tiny_tokenizer), RECIPE), tiny_tokenizer, samples, RECIPE, checkpoint_dir=ckpt
        )
    monkeypatch.setattr(torch, "save", real_save)
    resumed = attach_adapter(build.model(tiny_tokenizer), RECIPE)
    train_adapter(resumed, tiny_tokenizer, samples, RECIPE, checkpoint_dir=ckpt)
    assert adapter_sha256(resumed) == adapter_sha256(whole)


def test_batched_left_padded_generation_matches_one_by_one(tiny_lm, tiny_tokenizer):
    questions = ["Where does Ada Brook live?", "What is the capital of France?", "Q?"]
    together = generate_answers(tiny_lm, tiny_tokenizer, questions, max_new_tokens=5, batch_size=3)
    alone = [generate_answers(tiny_lm, tiny_tokenizer, [q], max_new_tokens=5)[0] for q in questions]
    assert together == alone and all(isinstance(a, str) for a in together)
    with pytest.raises(InvalidParameterError, match="max_new_tokens must be an int in"):
        generate_answers(tiny_lm, tiny_tokenizer, questions, max_new_tokens=0)


def test_public_names_resolve():
    import expunge.lm as lm

    missing = [name for name in lm.__all__ if not hasattr(lm, name)]
    assert not missing and len(set(lm.__all__)) == len(lm.__all__)


def test_an_adapter_named_like_a_module_holds_only_its_lora_tensors(build, tiny_tokenizer):
    from expunge.lm import adapter_state, attach_adapter

    named = adapter_state(attach_adapter(build.model(tiny_tokenizer), RECIPE, adapter_name="model"), "model")
    plain = adapter_state(attach_adapter(build.model(tiny_tokenizer), RECIPE), "default")
    assert len(named) == len(plain) and all(".lora_" in n for n in named)
