"""`python -m seq2seq`: train, chat, reply, evaluate, serve."""

from seq2seq.cli import main

raise SystemExit(main())
