# The verbs people type. Every target does its own setup: a fresh clone needs only Python 3.11.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
MODEL := models/aftercare.tar.gz
CLASSIFIER := models/redflag.joblib
TRAINING_FILES := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null)
TRIAGE_FILES := $(shell find training/triage -name '*.yml' 2>/dev/null) aftercare/triage/classifier.py aftercare/triage/normalise.py
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONPATH := $(CURDIR)
CHROMIUM := /usr/bin/chromium
FAKETIME := /usr/bin/faketime
NGINX := /usr/sbin/nginx
# Instants the date-sensitive tests also run at (UTC): just before and after midnight in the clinic
# (America/Chicago), both sides of a daylight-saving change, and the hour a clean clone once failed at.
CLOCK_INSTANTS := 2026-11-23T05:59:00 2026-11-23T06:01:00 2026-03-08T07:59:00 2026-03-08T08:01:00 2026-11-23T21:10:00
CLOCK_TESTS := tests/aftercare/sms tests/aftercare/console tests/aftercare/test_escalations.py
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run cluster test test-clock install train validate stories evaluate bench chat nurse enrol clean

## run: set up, train if the data changed, and start the assistant on 127.0.0.1 (Ctrl-C stops it)
run: $(MODEL) $(CLASSIFIER)
	$(BIN)/python -m aftercare.stack

## test: set up, train if needed, and run the whole test suite
test: $(MODEL) $(CLASSIFIER) $(CHROMIUM) $(FAKETIME) $(NGINX)
	$(BIN)/python -m aftercare.check_protocol
	$(BIN)/rasa data validate --fail-on-warnings --data data -d domain.yml -c config.yml > var/validate.log 2>&1 || (cat var/validate.log; exit 1)
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory test-clock
	$(MAKE) --no-print-directory stories

## test-clock: the date-sensitive tests again at fixed instants (faketime) and in another machine time zone
test-clock: $(INSTALLED) $(FAKETIME)
	@for at in $(CLOCK_INSTANTS); do \
	  echo "date-sensitive tests at $$at UTC"; \
	  TZ=UTC $(FAKETIME) -f "@$${at/T/ }" $(BIN)/python -m pytest -q -p no:cacheprovider $(CLOCK_TESTS) > var/test-clock.log 2>&1 \
	    || (tail -30 var/test-clock.log; exit 1); tail -1 var/test-clock.log; \
	done
	@echo "date-sensitive tests with the machine in Asia/Tokyo"
	@TZ=Asia/Tokyo $(BIN)/python -m pytest -q -p no:cacheprovider $(CLOCK_TESTS) > var/test-clock.log 2>&1 || (tail -30 var/test-clock.log; exit 1); tail -1 var/test-clock.log

## cluster: two Rasa + action servers behind nginx on PostgreSQL and Redis (README, "Several servers"; Ctrl-C stops it)
cluster: $(MODEL) $(CLASSIFIER) $(NGINX)
	$(BIN)/python -m aftercare.cluster

## nginx balances the servers of `make cluster` and of its end-to-end test (Debian's package)
$(NGINX):
	@install -d -m 700 var
	@echo "installing Debian's nginx for the several-servers configuration"
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nginx-light > var/apt-nginx.log 2>&1 || (tail -20 var/apt-nginx.log; exit 1)

## faketime runs the date-sensitive tests at fixed instants (Debian's package)
$(FAKETIME):
	@install -d -m 700 var
	@echo "installing Debian's faketime for the date-sensitive tests"
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq faketime > var/apt-faketime.log 2>&1 || (tail -20 var/apt-faketime.log; exit 1)

## the browser tests drive Debian's chromium (Playwright cannot download a browser here)
$(CHROMIUM):
	@install -d -m 700 var
	@echo "installing Debian's chromium for the browser tests"
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium > var/apt-chromium.log 2>&1 || (tail -20 var/apt-chromium.log; exit 1)

## install: the virtualenv with the pinned lock (Rasa 3.6 on Python 3.11: see README, "Dependencies")
install: $(INSTALLED)
$(INSTALLED): requirements/lock.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (found %d.%d)" % sys.version_info[:2])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --quiet --no-deps --ignore-requires-python -r requirements/lock.txt
	@install -d -m 700 var
	touch $@

## train: train the models when their training data or config changed
train: $(MODEL) $(CLASSIFIER)
$(CLASSIFIER): $(INSTALLED) $(TRIAGE_FILES)
	$(BIN)/python -m aftercare.triage.classifier training/triage $@
$(MODEL): $(INSTALLED) $(TRAINING_FILES)
	@install -d -m 700 var
	$(BIN)/rasa train --fixed-model-name aftercare --out models > var/train.log 2>&1 || (tail -40 var/train.log; exit 1)
	@touch $@
	@echo "trained $@ (log: var/train.log)"

## validate: check the protocol file and the training data
validate: $(INSTALLED)
	$(BIN)/python -m aftercare.check_protocol
	$(BIN)/rasa data validate --fail-on-warnings --data data -d domain.yml -c config.yml

## stories: the conversation tests in tests/test_stories.yml (actions all right, intents >= 92%)
stories: $(MODEL)
	rm -rf var/story-results
	$(BIN)/rasa test core --stories tests/test_stories.yml --e2e --model $(MODEL) --out var/story-results > var/stories.log 2>&1 || (tail -60 var/stories.log; exit 1)
	$(BIN)/python scripts/check_stories.py var/story-results

## evaluate: start the servers, play the old set, both blind splits, the lay probe (dev), the lay check set and the blind check set through the REST channel,
## print the figures (each stack's clinic day is its sets' top-level `today`: the dev/test split is written for
## Thursday 2026-11-19, the check set for Tuesday 2026-11-24; the test split and both check sets show figures only)
EVAL_TODAY := 2026-11-19
CHECK_TODAY := 2026-11-24
evaluate: $(MODEL) $(CLASSIFIER)
	rm -rf var/evaluate var/evaluate-check
	status=0; \
	AFTERCARE_FIXED_TODAY=$(EVAL_TODAY) $(BIN)/python -m aftercare.stack --rasa-port 5105 --action-port 5155 --console-port 5106 --var-dir var/evaluate \
	  --then $(BIN)/python scripts/evaluate.py --url '{rasa_url}' --token-file var/evaluate/rest-token --cases eval/cases.yml --cases eval/blind/dev.yml --cases eval/blind/lay_dev.yml \
	  --numbers-only eval/blind/test.yml --numbers-only eval/blind/lay_check.yml --json var/evaluate/evaluation.json || status=$$?; \
	AFTERCARE_FIXED_TODAY=$(CHECK_TODAY) $(BIN)/python -m aftercare.stack --rasa-port 5105 --action-port 5155 --console-port 5106 --var-dir var/evaluate-check \
	  --then $(BIN)/python scripts/evaluate.py --url '{rasa_url}' --token-file var/evaluate-check/rest-token \
	  --numbers-only eval/blind/check.yml --json var/evaluate-check/evaluation.json || status=$$?; \
	exit $$status

## nurse: create a personal nurse console account (asks for the password): make nurse NURSE=ann NAME="Ann Lee, RN"
nurse: $(INSTALLED)
	@test -n "$(NURSE)" || (echo 'usage: make nurse NURSE=<username> [NAME="Full Name"]'; exit 2)
	$(BIN)/python -m aftercare.console.accounts create "$(NURSE)" --name "$(NAME)"

## enrol: enrol a patient for SMS check-ins: make enrol PHONE=+15551234567 DATE=2026-11-18
enrol: $(INSTALLED)
	@test -n "$(PHONE)" -a -n "$(DATE)" || (echo 'usage: make enrol PHONE=<E.164> DATE=<YYYY-MM-DD>'; exit 2)
	$(BIN)/python -m aftercare.sms.enrol "$(PHONE)" --procedure-date "$(DATE)"

## bench: speed, load and memory of this configuration against Rasa's default one (prints a table; ~15 min)
bench: $(MODEL) $(CLASSIFIER)
	$(BIN)/python scripts/bench.py --json var/bench/bench.json

## chat: talk to a running assistant (make run) in this terminal
chat: $(INSTALLED)
	$(BIN)/python scripts/chat.py

clean:
	rm -rf models var .rasa results test-artifacts
