"""Coroutines (Python 3.5+): an asyncio coroutine chain blocked in a sync
call, a coroutine driven by send(), an async generator, a yield-from chain.
The async code lives in _coroutines3.py so this file parses on 2.7."""
import sys

import _reporter

if __name__ == "__main__":
    if sys.version_info < (3, 5):
        _reporter.skip("async def needs Python 3.5")
    import _coroutines3
    _coroutines3.main()
