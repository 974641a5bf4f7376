# device: `micropython -m tinypolicy batch|serve ...`: forwards to tinypolicy_app.batch (the CLI lives in the app).
import sys

if __name__ == "__main__":
    try:
        from tinypolicy_app.batch import main
    except ImportError:  # a mip install of the runtime alone
        sys.stderr.write("error: the batch / serve command needs the tinypolicy_app package (device/ of the repo)\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
