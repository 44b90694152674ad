"""The baseline for bench/load.py: a Flask app with one route returning a short text, served by gunicorn."""
from flask import Flask

app = Flask(__name__)


@app.route("/")
def bare():
    return "ok"
