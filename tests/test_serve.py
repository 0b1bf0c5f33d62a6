"""recipegen serve: the API in process (FastAPI's test client), then the real server on a loopback port
(marked slow: a process of its own), driven by OpenAI's own client and, for the page, headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import RECIPEGEN, needs_entry_point

pytest.importorskip("fastapi", reason="the serve extra: pip install -e '.[test]' installs it")


@pytest.fixture(scope="module")
def service(tiny_run):
    from recipegen.generation.generator import Generator
    from recipegen.run import load_run
    from recipegen.serve.app import Service
    from recipegen.serve.batcher import Batcher

    run = load_run(tiny_run)
    generator = Generator.from_run(run, settings_as_inputs=True)
    batcher = Batcher(generator, max_batch=8)
    yield Service(model_id="run", generator=generator, batcher=batcher, sample=run.config.sample,
                  template=run.template, foods=run.foods(), max_tokens=run.max_tokens(), max_batch=8)
    batcher.close(10)


@pytest.fixture(scope="module")
def client(service):
    from fastapi.testclient import TestClient

    from recipegen.serve.app import create_app

    with TestClient(create_app(service)) as client:
        yield client


def generated_texts(tiny_run, count, seed, **settings):
    from recipegen.generate import generate_run

    return [s.text for s in generate_run(tiny_run, **settings).generate(count, seed).samples]


def test_the_same_seed_writes_what_recipegen_generate_writes(client, tiny_run):
    answer = client.post("/v1/recipes", json={"n": 3, "seed": 11, "temperature": 0.8}).json()
    assert [r["text"] for r in answer["recipes"]] == generated_texts(tiny_run, 3, 11, temperature=0.8)
    assert answer["seed"] == 11 and answer["model"] == "run"
    assert {"title", "directions", "ended"} <= set(answer["recipes"][0])
    titled = client.post("/v1/recipes", json={"title": "lemon rice", "seed": 2}).json()["recipes"][0]
    assert titled["title"].lower() == "lemon rice"


def test_requests_decoded_together_write_what_each_writes_alone(client, tiny_run):
    """Eight callers at once share batches; each still gets its own seed's recipe."""
    bodies = [{"seed": seed, "temperature": [0.0, 0.5, 1.0, 1.5][seed % 4], "max_tokens": 4 + seed}
              for seed in range(8)]
    answers: dict[int, list[str]] = {}

    def ask(body):
        answers[body["seed"]] = [r["text"] for r in client.post("/v1/recipes", json=body).json()["recipes"]]

    threads = [threading.Thread(target=ask, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for body in bodies:
        assert answers[body["seed"]] == generated_texts(tiny_run, 1, body["seed"], temperature=body["temperature"],
                                                        max_tokens=body["max_tokens"])


def test_completions_streamed_add_up_to_the_unstreamed_text(client):
    body = {"model": "run", "prompt": "recipe for", "max_tokens": 12, "seed": 5, "n": 2}
    whole = client.post("/v1/completions", json=body).json()
    assert whole["object"] == "text_completion" and whole["usage"]["prompt_tokens"] == 2
    with client.stream("POST", "/v1/completions", json=body | {"stream": True,
                                                                 "stream_options": {"include_usage": True}}) as r:
        events = [line.removeprefix("data: ") for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    for index in (0, 1):
        streamed = "".join(c["text"] for chunk in chunks for c in chunk["choices"] if c["index"] == index)
        assert streamed == whole["choices"][index]["text"]
        reasons = [c["finish_reason"] for chunk in chunks for c in chunk["choices"] if c["index"] == index]
        assert reasons[-1] == whole["choices"][index]["finish_reason"] and set(reasons[:-1]) <= {None}
    assert chunks[-1]["usage"] == whole["usage"]


def test_stop_strings_cut_the_text_and_say_stop(client):
    body = {"model": "run", "prompt": "recipe for", "max_tokens": 12, "seed": 5}
    text = client.post("/v1/completions", json=body).json()["choices"][0]["text"]
    stop = text.split()[2]
    cut = client.post("/v1/completions", json=body | {"stop": [stop]}).json()["choices"][0]
    assert cut == {"index": 0, "text": text[:text.index(stop)], "logprobs": None, "finish_reason": "stop"}
    with client.stream("POST", "/v1/completions", json=body | {"stop": stop, "stream": True}) as r:
        chunks = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    assert "".join(c["text"] for chunk in chunks for c in chunk["choices"]) == cut["text"]


@pytest.mark.parametrize("body, status, param", [
    ({"temperature": -1}, 400, "temperature"),
    ({"top_p": 2}, 400, "top_p"),
    ({"n": 0}, 400, "n"),
    ({"n": 9}, 400, "n"),  # over the server's --max-batch of 8
    ({"n": "2"}, 400, "n"),  # strict: a string is not a number
    ({"max_tokens": 100_001}, 400, "max_tokens"),
    ({"seed": -1}, 400, "seed"),
    ({"seed": 2**32}, 400, "seed"),
    ({"no_repeat_ngram": 1}, 400, "no_repeat_ngram"),
    ({"colour": "red"}, 400, "colour"),
    ({"ingredients": ["1 egg"]}, 400, "ingredients"),  # a book-template run has no list
    ({"prompt": "zzqx"}, 400, "prompt"),
    ({"prompt": "recipe for", "title": "toast"}, 400, "prompt"),
])
def test_bad_recipe_requests_are_400_naming_the_field(client, body, status, param):
    answer = client.post("/v1/recipes", json=body)
    assert answer.status_code == status
    assert answer.json()["error"]["param"] == param and answer.json()["error"]["message"]


@pytest.mark.parametrize("body, status, param", [
    ({"prompt": "x"}, 400, "model"),
    ({"model": "gpt-4", "prompt": "recipe for"}, 404, "model"),
    ({"model": "run", "logprobs": 2}, 400, "logprobs"),
    ({"model": "run", "stop": ["a", "b", "c", "d", "e"]}, 400, "stop"),
    ({"model": "run", "best_of": 2, "stream": True}, 400, "best_of"),
    ({"model": "run", "prompt": ["recipe for"] * 33}, 400, "prompt"),
])
def test_bad_completion_requests_are_4xx_naming_the_field(client, body, status, param):
    answer = client.post("/v1/completions", json=body)
    assert (answer.status_code, answer.json()["error"]["param"]) == (status, param)


def test_malformed_oversized_and_unknown_requests_get_json_errors(client):
    def error_of(response):
        return response.status_code, response.json()["error"]["message"]

    headers = {"Content-Type": "application/json"}
    assert error_of(client.post("/v1/recipes", content=b'{"n": ', headers=headers))[0] == 400
    assert error_of(client.post("/v1/recipes", content=b'{"n": 1}'))[0] == 415  # no JSON content type
    big = json.dumps({"title": "x" * (1 << 20)}).encode()
    too_big = client.post("/v1/recipes", content=big, headers=headers)
    assert error_of(too_big) == (413, "the body is over 1,048,576 bytes")
    chunked = client.post("/v1/recipes", content=iter([big[:1000], big[1000:]]), headers=headers)  # no length given
    assert error_of(chunked)[0] == 413
    assert error_of(client.get("/v1/nothing"))[0] == 404
    assert error_of(client.get("/v1/recipes"))[0] == 405
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/v1/models").json()["data"][0]["id"] == "run"
    schema = client.get("/openapi.json").json()
    assert {"/v1/recipes", "/v1/completions", "/v1/models", "/health"} <= set(schema["paths"])


def test_the_api_key_is_required_on_the_api_only(service):
    from fastapi.testclient import TestClient

    from recipegen.serve.app import create_app

    keyed = dict(vars(service), api_key="sesame")
    with TestClient(create_app(type(service)(**keyed))) as client:
        assert client.get("/v1/models").status_code == 401
        assert client.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/v1/models", headers={"Authorization": "Bearer sesame"}).status_code == 200
        assert client.post("/v1/recipes", json={}).json()["error"]["type"] == "authentication_error"
        assert client.get("/health").status_code == 200 and client.get("/").status_code == 200


def test_streamed_pieces_hold_back_what_the_next_word_may_change():
    from recipegen.serve.completions import CompletionText
    from recipegen.text import WORDS

    tokens = ["add", "1", "/", "2", "cup", "flour", ",", "then", "stir", "."]
    text = CompletionText(WORDS, ["recipe", "for"], ["then"], echo=False)
    pieces = [text.add(token) for token in tokens]
    last, reason = text.finish(tokens, ended=False)
    assert "".join(pieces) + last == " add 1/2 cup flour, " and reason == "stop"
    assert "1 /" not in "".join(pieces)


def test_a_missing_extra_is_one_line_naming_it(monkeypatch, capsys):
    import importlib.util

    from recipegen.cli import run_command

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    assert run_command(["serve"]) == 2
    assert capsys.readouterr().err == ("Error: fastapi not installed: recipegen serve needs them, install them with: "
                                       "pip install 'recipegen[serve]'\n")


def test_an_address_it_cannot_listen_on_is_one_line_exit_2(tiny_run, capsys):
    import socket

    from recipegen.cli import run_command

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert run_command(["serve", "--model", str(tiny_run), "--port", str(port)]) == 2
    assert capsys.readouterr().err == (f"Error: --host 127.0.0.1 --port {port}: cannot listen there "
                                       f"(Address already in use)\n")


# The real server, in a process of its own.

class Server:
    def __init__(self, run: Path, *args: str):
        self.process = subprocess.Popen([RECIPEGEN, "serve", "--model", str(run), "--port", "0", *args],
                                        stderr=subprocess.PIPE, text=True)
        line = self.process.stderr.readline()
        match = re.search(r"http://\S+", line)
        assert match, f"no address in {line!r}"
        self.url = match.group(0)

    def stop(self, timeout: float = 60) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout), self.process.stderr.read()
        finally:
            self.process.kill()


@pytest.fixture(scope="module")
def server(tiny_run):
    server = Server(tiny_run)
    yield server
    assert server.stop()[0] == 0


@pytest.mark.slow
@needs_entry_point
def test_openai_client_plain_and_streamed(server, tiny_run):
    from openai import OpenAI

    client = OpenAI(base_url=server.url + "/v1", api_key="unused")
    model = client.models.list().data[0].id
    plain = client.completions.create(model=model, prompt="recipe for", max_tokens=10, seed=3, temperature=0.7)
    streamed = client.completions.create(model=model, prompt="recipe for", max_tokens=10, seed=3, temperature=0.7,
                                         stream=True)
    assert "".join(chunk.choices[0].text for chunk in streamed if chunk.choices) == plain.choices[0].text
    assert plain.choices[0].finish_reason in ("stop", "length") and plain.usage.completion_tokens >= 1
    whole = generated_texts(tiny_run, 1, 3, temperature=0.7, max_tokens=10)[0]
    assert whole.endswith(plain.choices[0].text.strip())


@pytest.mark.slow
@needs_entry_point
def test_a_client_that_disconnects_mid_stream_does_not_disturb_the_others(server, tiny_run):
    import httpx

    body = {"model": Path(tiny_run).name, "prompt": "recipe for", "max_tokens": 40, "seed": 1, "stream": True}
    with httpx.stream("POST", server.url + "/v1/completions", json=body, timeout=60) as response:
        next(response.iter_lines())  # one event, then gone
    others = [httpx.post(server.url + "/v1/recipes", json={"seed": seed, "n": 2}, timeout=60) for seed in range(3)]
    assert [r.status_code for r in others] == [200, 200, 200]
    assert httpx.get(server.url + "/health").json()["status"] == "ok"


@pytest.mark.slow
@needs_entry_point
def test_sigterm_finishes_the_requests_in_flight_then_exits_0(tiny_run):
    import httpx

    server = Server(tiny_run)
    answers = []

    def ask(seed):
        answers.append(httpx.post(server.url + "/v1/recipes", json={"seed": seed, "n": 8, "max_tokens": 3000},
                                  timeout=120).status_code)

    threads = [threading.Thread(target=ask, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    code, stderr = server.stop()
    for thread in threads:
        thread.join()
    assert code == 0 and stderr.strip().endswith("Stopped.")
    assert answers == [200] * 4
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/health")


@pytest.mark.slow
@needs_entry_point
def test_the_page_writes_a_recipe_in_a_real_browser(server):
    """Debian's Chromium and ChromeDriver (installed by .ci/run): fill the form, read the recipe off the page."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=390,844"):  # a phone's screen
        options.add_argument(flag)
    browser = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    try:
        browser.get(server.url + "/")
        browser.find_element(By.ID, "title").send_keys("lemon rice")
        browser.find_element(By.ID, "cook").click()
        WebDriverWait(browser, 60).until(lambda b: b.find_element(By.ID, "recipe").is_displayed())
        assert browser.find_element(By.ID, "recipe-title").text.lower() == "lemon rice"
        steps = browser.find_elements(By.CSS_SELECTOR, "#recipe-directions li")
        assert steps and all(step.text for step in steps)
        assert browser.find_element(By.ID, "status").get_attribute("class") != "error"
    finally:
        browser.quit()
