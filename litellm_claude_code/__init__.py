"""Claude Code behind LiteLLM: conversion, stream translation, errors, sessions."""
