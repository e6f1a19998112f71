"""The adaptive hybrid analyzer: the worker (consume → prepare → persist → commit) and the cascade
its router runs (detection → model → decide → llm).
"""
