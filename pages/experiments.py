"""Experiments: the chapter's claims run on this machine, beside the papers' figures, with a verdict computed from
what was measured."""

from __future__ import annotations

import os

import streamlit as st
import torch

import ui
from lightnets import experiments
from lightnets.i18n import _, language
from ui import experiments as runs

ui.sidebar()  # the shared sidebar keeps its selection here too; experiments build their own networks

names = experiments.list_experiments()
titles = {n: _(experiments.experiment(n).title) for n in names}  # worded now, in this run's language
name = st.selectbox(_("experiment"), names, format_func=titles.__getitem__,
                    key="experiments.name")
spec = experiments.experiment(name)
paper = spec.paper

st.header(_(spec.title))
st.caption(_("{title} ({authors}, {year}), {where} — [arXiv:{arxiv}]({url})").format(
    title=paper.title, authors=paper.authors, year=paper.year, where=_(spec.where), arxiv=paper.arxiv,
    url=paper.url))
st.markdown(_("**The claim.** {claim}").format(claim=_(spec.claim)))
st.markdown(_("**The setup.** {setup}").format(setup=_(spec.setup)))
for note in spec.notes:
    st.caption(_("Where the paper is silent: {note}").format(note=_(note)))

# ---- the experiment's own knobs, and how to run it ----------------------------------------------------------------
knobs = {}
if spec.knobs:
    for column, knob in zip(st.columns(len(spec.knobs)), spec.knobs):
        with column:
            knobs[knob.name] = runs.knob_widget(knob, f"experiments.{name}.{knob.name}")

if not spec.timed:
    outcome = ui.attempt(runs.instant, name, tuple(sorted(knobs.items())))
    if outcome is None:
        st.stop()
else:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    left, middle, right = st.columns(3)
    device = left.selectbox(_("device"), devices, key="experiments.device",
                            help=_("cpu times the paper's ARM set-up (its channel counts, batch 1); cuda, where a "
                                   "GPU is present, its GPU set-up."))
    threads = middle.selectbox(_("threads"), list(range(1, (os.cpu_count() or 1) + 1)), key="experiments.threads",
                               help=_("Intra-op threads. One, as the papers' phones; the setting is restored "
                                      "afterwards."))
    quick = right.toggle(_("quick mode (for the classroom)"), value=True, key="experiments.quick",
                         help=_("Seconds instead of a minute: fewer rounds, and only the first scale or model. "
                                "Full mode measures everything the paper's table has."))
    preview = ui.attempt(runs.preview, name, device, language())
    if preview is not None:
        with st.expander(_("what is built and measured"), expanded=False):
            runs.show_view(preview, f"experiments.{name}.preview")
    key = runs.key_of(name, device, threads, quick, knobs)
    if st.button(_("Run the experiment"), type="primary", key="experiments.run"):
        runs.run(key)
    outcome = runs.stored(key, runs.live_values(name, knobs))
    if outcome is None:
        st.caption(_("Not run yet with these settings: press the button. Nothing is timed until you do; quick mode "
                     "takes a few seconds."))
        others = runs.stored_elsewhere(name, key)
        if others:
            st.caption(_("This session has results of this experiment with other settings: {which}.").format(
                which="; ".join(_("{device}, {threads} thread(s), {mode}").format(
                    device=o.device, threads=o.threads, mode=_("quick") if o.quick else _("full")) for o in others)))
        st.stop()
    st.caption(runs.conditions(outcome))

# ---- what the measurement says --------------------------------------------------------------------------------
st.subheader(_("What the measurement says"))
st.markdown(_("Each verdict is computed from the numbers below. A timing claim **holds here** when nine rounds in "
              "ten or more show the difference the paper claims (by more than {m:.0f}%), **does not hold here** when "
              "nine in ten or more do not, and is **too noisy to say** when the rounds disagree. Counts from the "
              "cost model are exact.").format(m=100 * experiments.MARGIN))
runs.show_findings(outcome)
runs.show_view(outcome.view(), f"experiments.{name}.result")
