from rollouts_plugin_lint.cli import main

raise SystemExit(main())
