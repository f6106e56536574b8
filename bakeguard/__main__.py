from bakeguard.cli import main

raise SystemExit(main())
